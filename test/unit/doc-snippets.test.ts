// Every documented command and import works as written: the shell and TypeScript snippets of
// README.md and of every page under docs/ (the course included). `tsray sim|check|explain|trace`
// commands run for real, in order, in a scratch directory that sees the repository's examples and
// regression cases (so a trace one line writes is there for the next); commands that need a
// running cluster (`start`, `run --address`, `job`, …) are checked against their `--help`: the
// command exists and knows every flag. `npm run X` must name a script. TypeScript imports must
// resolve through the package's exports (or a relative path) to modules exporting those names.
// Other programs (kubectl, docker, curl, …) are not run here.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import { runCli } from "../../src/cli/main.ts";
import { main as explainMain } from "../../src/cli/explain.ts";
import { main as traceMain } from "../../src/cli/trace.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string>; exports: Record<string, { default: string }> };

function pages(): string[] {
  const out = [join(ROOT, "README.md")];
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) walk(join(d, f.name));
      else if (f.name.endsWith(".md")) out.push(join(d, f.name));
    }
  };
  walk(join(ROOT, "docs"));
  return out.sort();
}

/** `file`: the fence says whose source it shows (```ts file=PATH), so its relative imports are from there. */
interface Block { lang: string; text: string; line: number; file?: string }

function blocks(md: string): Block[] {
  const out: Block[] = [];
  const re = /^```(\w*)([^\n]*)\n([\s\S]*?)^```/gm;
  for (const m of md.matchAll(re)) out.push({ lang: m[1], text: m[3], line: md.slice(0, m.index).split("\n").length, file: /\bfile=(\S+)/.exec(m[2])?.[1] });
  return out;
}

/** Shell words of one command line: quotes ('…', "…") and backslash escapes, no expansion. */
export function words(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${line}`);
      cur += line.slice(i + 1, end); i = end; inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) cur += line[j] === "\\" ? line[++j] : line[j];
      if (j >= line.length) throw new Error(`unclosed " in: ${line}`);
      i = j; inWord = true;
    } else if (c === "\\") { cur += line[++i] ?? ""; inWord = true; }
    else if (/\s/.test(c)) { if (inWord) out.push(cur); cur = ""; inWord = false; }
    else if (c === "#" && !inWord) break;
    else { cur += c; inWord = true; }
  }
  if (inWord) out.push(cur);
  return out;
}

/** The commands of a shell block: continuation lines joined, prompts and comments dropped. */
function commands(text: string): string[] {
  return text.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.replace(/^\s*\$ /, "").trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

const LIVE = new Set(["sim", "check", "explain", "trace"]);
const scratch = mkdtempSync(join(tmpdir(), "tsray-snippets-"));
for (const d of ["examples", "test", "sim", "src", "spec", "package.json"]) symlinkSync(join(ROOT, d), join(scratch, d));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Commands with a module of their own write to the process's streams unless handed others. */
const MODULE_MAINS: Record<string, typeof explainMain> = { explain: explainMain, trace: traceMain };

async function tsray(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd: scratch, workdir: scratch };
  const own = MODULE_MAINS[args[0]];
  const code = own ? await own(args.slice(1), io) : await runCli(args, io);
  return { code, out, err };
}

/** What a command knows: its help, or for a command in a module of its own, that module's source. */
function knownFlags(cmd: string, help: string): string {
  const module = ["list", "get", "summary"].includes(cmd) ? "state" : cmd;
  const file = join(ROOT, "src/cli", `${module}.ts`);
  return help + (existsSync(file) ? readFileSync(file, "utf8") : "");
}

/** Checks one shell command; returns a problem, or undefined. */
async function checkShell(cmd: string): Promise<string | undefined> {
  if (/[|;&<>]|\$\(/.test(cmd.replace(/'[^']*'/g, "''"))) return undefined; // pipelines and redirections: not ours to run
  let w: string[];
  try { w = words(cmd); } catch (e) { return (e as Error).message; }
  while (w.length > 0 && /^[A-Z_]+=/.test(w[0])) w.shift(); // leading VAR=value
  if (w[0] === "npx" && w[1] === "tsray") w = w.slice(1);
  if (w[0] === "npm") {
    if (w[1] === "run" && !Object.hasOwn(pkg.scripts, w[2] ?? "")) return `npm run ${w[2]}: no such script in package.json`;
    if (w[1] === "test" || w[1] === "start") return Object.hasOwn(pkg.scripts, w[1]) ? undefined : `npm ${w[1]}: no such script`;
    return undefined;
  }
  if (w[0] !== "tsray") return undefined;
  const args = w.slice(1);
  if (args.length === 0 || args[0].startsWith("-")) return (await tsray(args.length ? args : ["--help"])).code === 0 ? undefined : `${cmd}: failed`;
  const help = await tsray([args[0], "--help"]);
  if (help.code !== 0) return `${cmd}: \`tsray ${args[0]}\` is not a command (${help.err.trim()})`;
  const variable = args.some((a) => a.includes("$") || /^[A-Z][A-Z_]*(:|$)/.test(a) || a.includes("…"));
  if (LIVE.has(args[0]) && !variable) {
    const r = await tsray(args);
    // 1 is an answer (a failed program, a violation): the documented "break it" runs end so.
    if (r.code !== 0 && r.code !== 1) return `${cmd}: exit ${r.code}: ${r.err.trim() || r.out.trim()}`;
    return undefined;
  }
  // Commands needing a cluster (or with placeholders): each flag must be one the command knows.
  const helpText = knownFlags(args[0], help.out);
  for (const a of args) {
    const flag = /^(--[a-z][\w-]*)/.exec(a)?.[1];
    if (flag && flag !== "--help" && !helpText.includes(flag)) return `${cmd}: \`tsray ${args[0]}\` has no option ${flag}`;
  }
  return undefined;
}

/** Where a module specifier leads: the package's exports, or a path relative to the page. */
function resolveImport(spec: string, page: string): string | undefined {
  if (spec === "tsray" || spec.startsWith("tsray/")) {
    const key = spec === "tsray" ? "." : `./${spec.slice("tsray/".length)}`;
    const target = pkg.exports[key]?.default;
    return target ? join(ROOT, target) : undefined;
  }
  if (spec.startsWith(".")) {
    const p = resolve(dirname(page), spec);
    return existsSync(p) ? p : undefined;
  }
  return existsSync(join(ROOT, "node_modules", spec.split("/")[0])) ? spec : undefined;
}

async function checkTs(text: string, page: string): Promise<string[]> {
  const problems: string[] = [];
  for (const m of text.matchAll(/^\s*import\s+(type\s+)?([\s\S]*?)\s+from\s+["']([^"']+)["']/gm)) {
    const [, typeOnly, what, spec] = m;
    const target = resolveImport(spec, page);
    if (!target) { problems.push(`import from "${spec}" does not resolve (the package exports ${Object.keys(pkg.exports).join(", ")})`); continue; }
    const names = /^\{([\s\S]*)\}$/.exec(what.trim())?.[1].split(",").map((n) => n.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0]).filter(Boolean) ?? [];
    if (names.length === 0 || !target.startsWith("/")) continue;
    const mod = (await import(pathToFileURL(target).href)) as Record<string, unknown>;
    const source = readFileSync(target, "utf8");
    for (const n of names) {
      const isType = typeOnly || new RegExp(`\\b(type|interface)\\s+${n}\\b|type ${n}\\b`).test(source);
      if (!(n in mod) && !isType) problems.push(`"${spec}" exports no ${n}`);
    }
  }
  return problems;
}

describe("documented snippets work as written", () => {
  for (const page of pages()) {
    const rel = relative(ROOT, page);
    const bs = blocks(readFileSync(page, "utf8"));
    const shell = bs.filter((b) => ["sh", "bash", "shell", "console"].includes(b.lang));
    const ts = bs.filter((b) => ["ts", "typescript", "js", "javascript"].includes(b.lang));
    test(`${rel}: ${shell.length} shell and ${ts.length} TypeScript snippets`, { timeout: 300_000 }, async () => {
      const problems: string[] = [];
      for (const b of shell) for (const c of commands(b.text)) {
        const p = await checkShell(c);
        if (p) problems.push(`${rel}:${b.line}: ${p}`);
      }
      for (const b of ts) for (const p of await checkTs(b.text, b.file ? join(ROOT, b.file) : page)) problems.push(`${rel}:${b.line}: ${p}`);
      assert.deepEqual(problems, []);
    });
  }
});

test("the shell word splitter", () => {
  assert.deepEqual(words(`tsray sim a.ts --faults '{"x": 1}' --node "h:CPU=0" # note`), ["tsray", "sim", "a.ts", "--faults", '{"x": 1}', "--node", "h:CPU=0"]);
  assert.throws(() => words("echo 'open"), /unclosed '/);
});
