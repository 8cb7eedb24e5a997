#!/usr/bin/env node
// The `tsray` executable: registers tsx so Node can load TypeScript directly — the CLI's own
// sources and the user's program files, wherever they are (the CommonJS hook covers a .ts file
// in a directory whose package.json does not say "type": "module") — then hands the
// arguments to the CLI (src/cli/main.ts).
import { register } from "tsx/esm/api";
import { register as registerCommonJs } from "tsx/cjs/api";

registerCommonJs();
register();
const { runCli } = await import("../src/cli/main.ts");
try {
  process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
} catch (e) {
  process.stderr.write(`tsray: internal error: ${e?.stack ?? String(e)}\n`);
  process.exitCode = 70;
}
