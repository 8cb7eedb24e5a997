#!/usr/bin/env node
// The `tsray` executable: registers tsx so Node can load the TypeScript sources directly,
// then hands the arguments to the CLI (src/cli/main.ts).
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli/main.ts");
try {
  process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
} catch (e) {
  process.stderr.write(`tsray: internal error: ${e?.stack ?? String(e)}\n`);
  process.exitCode = 70;
}
