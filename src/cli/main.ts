// The `tsray` command line. `runCli(argv, io)` does all the work and returns the exit code,
// writing only to the streams it is given, so tests drive it in-process; bin/tsray.js (and
// `tsx src/cli/main.ts …`) hand it the real process's arguments and streams.
//
// Exit codes: 0 success; 1 the program failed or an invariant was violated; 2 a usage error
// (bad flag, missing file, malformed input) or a command that is not available.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { parseArgs, inspect } from "node:util";
import { checkTrace, checkers, formatViolations } from "../../spec/invariants/index.ts";
import { formatTrace, mergeTraces, parseTraceTolerant, type TraceEvent } from "../../spec/trace.ts";
import { formatTally, parseBugFlags, parseNodeShapes, SimOptionError, tally } from "./sim-options.ts";

export interface Io {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  /** Relative paths are resolved against this (default: process.cwd()). */
  readonly cwd?: string;
}

/** A usage error: printed as `tsray <cmd>: <message>` with exit code 2. */
class UsageError extends Error {}

type OptionSpec = { type: "string" | "boolean"; short?: string; multiple?: boolean };

interface Command {
  readonly summary: string;
  readonly usage: string;
  /** Extra help text below the usage line. */
  readonly help: string;
  readonly options: Record<string, OptionSpec>;
  readonly positionals: { min: number; max: number; names: string };
  /** Takes its arguments unparsed (its own module parses them); `module` is that module. */
  readonly raw?: { readonly module?: string };
  run(args: Parsed, io: Io): Promise<number>;
}

interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
  /** The arguments after the command name, untouched (for commands that parse their own). */
  readonly raw: string[];
}

const HELP_FLAG: Record<string, OptionSpec> = { help: { type: "boolean", short: "h" } };

// ---- commands ---------------------------------------------------------------------------------

const sim: Command = {
  summary: "run a program on a simulated cluster, deterministically from a seed",
  usage: "tsray sim FILE [--seed N] [--nodes K] [--cpus C | --node ID:RES=N,…] [--store-bytes B] [--faults PLAN] [--autoscale CONFIG [--launch-failure-rate R]] [--bug NAME] [--messages] [--trace OUT.jsonl] [--json]\n       tsray sim --replay CASE.json [--trace OUT.jsonl]",
  help: [
    "FILE's default export is a program: async (ray) => value. It runs on K simulated nodes",
    "(ids head, node-1, …; the head also hosts the GCS), each with C CPUs, in virtual time.",
    "The same FILE, seed and node count always give the same trace hash.",
    "",
    "Options:",
    "  --seed N         seed of every random choice in the run (an integer; default 1)",
    "  --nodes K        number of nodes (default 1)",
    "  --cpus C         CPUs per node (default 4)",
    "  --faults PLAN    faults to inject: a JSON file (or inline JSON) of the form",
    "                   {\"schedule\": [{\"at\": 50, \"kind\": \"kill-node\", \"node\": \"node-1\"}, …], \"network\": {…}}",
    "                   (kinds: see sim/faults.ts)",
    "  --autoscale CONFIG  run the autoscaler on the head: CONFIG is a JSON file (or inline JSON) with",
    "                   KubeRay's autoscaling fields (docs/autoscaling.md); each worker group gets",
    "                   maxReplicas simulated machines that start after 1–5 virtual s",
    "  --launch-failure-rate R  the share of machines that fail to start (default 0)",
    "  --node ID:RES=N  a node and its resources, e.g. --node head:CPU=0 --node node-1:CPU=2,GPU=1",
    "                   (repeat for each node; the first is the head; instead of --nodes and --cpus)",
    "  --store-bytes B  object store capacity of every node, in bytes (default 268435456)",
    "  --bug NAME       switch on a seeded bug of src/core/bugs.ts (repeatable), to see the",
    "                   invariant checkers catch it",
    "  --messages       trace every message between components (`msg` events, for",
    "                   `tsray trace --mermaid`); changes the trace hash",
    "  --trace FILE     write the trace, one JSON event per line (check it with `tsray check`)",
    "  --json           print one JSON object instead of the report",
    "  --replay CASE    replay a saved fault scenario (a test/regressions/*.json file, or one the",
    "                   property tests saved): its workload, cluster, seed and faults, run without",
    "                   and with the faults, judged as the tests judge it",
    "",
    "Prints the result, the trace hash, virtual time, event counts, what happened (tasks, faults,",
    "retries, reconstructions, transfers, spills), invariant violations and a command that replays the run. Exits 1 if the program failed or an invariant was violated.",
  ].join("\n"),
  options: {
    seed: { type: "string" },
    nodes: { type: "string" },
    cpus: { type: "string" },
    faults: { type: "string" },
    trace: { type: "string" },
    json: { type: "boolean" },
    replay: { type: "string" },
    autoscale: { type: "string" },
    "launch-failure-rate": { type: "string" },
    node: { type: "string", multiple: true },
    "store-bytes": { type: "string" },
    bug: { type: "string", multiple: true },
    messages: { type: "boolean" },
  },
  positionals: { min: 0, max: 1, names: "FILE" },
  run: (a, io) => (typeof a.values.replay === "string" ? runReplay(a, io) : runSim(a, io)),
};

const check: Command = {
  summary: "check a trace (.jsonl) against the invariants",
  usage: "tsray check TRACE.jsonl [MORE.jsonl…] [--only NAME,NAME…]",
  help: [
    "Reads a trace written by `tsray sim --trace` (or by any tsray host) and runs the invariant",
    "checkers over it. Exits 1 and lists the violations if there are any.",
    "",
    "Options:",
    "  --only NAMES     run only these checkers (comma-separated; see below)",
    "",
    `Invariants: ${Object.keys(checkers).join(", ")}.`,
  ].join("\n"),
  options: { only: { type: "string" } },
  positionals: { min: 1, max: Infinity, names: "TRACE" },
  run: runCheck,
};

/** Commands that live in their own module (src/cli/NAME.ts) and parse their own arguments. */
function moduleCommand(name: string, summary: string, usage: string, help: string, names = ""): Command {
  return {
    summary, usage, help,
    options: {}, positionals: { min: 0, max: Infinity, names }, raw: { module: name },
    run: (a) => dispatch(name, a.raw),
  };
}

/** `list`, `get` and `summary` share src/cli/state.ts, which is told which one ran. */
function stateCommand(name: string, summary: string, usage: string): Command {
  return { ...moduleCommand("state", summary, usage, "See `tsray " + name + " --help`."), run: (a) => dispatch("state", [name, ...a.raw]) };
}

const commands: Record<string, Command> = {
  sim,
  check,
  run: moduleCommand("run", "run a program on an embedded local cluster (real time)", "tsray run FILE [options]",
    "Runs FILE's default export, async (ray) => value, on a local cluster inside this process, in real time.", "FILE"),
  demo: moduleCommand("demo", "a guided tour: the seed examples on an embedded cluster", "tsray demo [options]",
    "Runs the seed article's examples on an embedded local cluster and explains what happened."),
  start: moduleCommand("start", "start a head node (--head) or join a cluster (--address)", "tsray start (--head | --address HOST:PORT) [options]", "See `tsray start --help`."),
  stop: moduleCommand("stop", "stop the daemons of a cluster started on this machine", "tsray stop [--name NAME | --address HOST:PORT | --all]", "See `tsray stop --help`."),
  status: moduleCommand("status", "show the cluster's nodes, resources, memory, object store, actors and running jobs", "tsray status [--address HOST:PORT] [--json]", "See `tsray status --help`."),
  job: moduleCommand("job", "submit, follow, stop and list jobs (Ray's Jobs API on the dashboard)", "tsray job submit|status|logs|stop|list|delete …", "See `tsray job --help`."),
  list: stateCommand("list", "list nodes, jobs, actors, tasks or objects (the state API)", "tsray list RESOURCE [--filter K=V] [--limit N]"),
  get: stateCommand("get", "show one node, job, actor, task or object (the state API)", "tsray get RESOURCE ID"),
  summary: stateCommand("summary", "summarize tasks, actors or objects (the state API)", "tsray summary tasks|actors|objects"),
  timeline: moduleCommand("timeline", "write a Chrome trace of a live cluster or of saved traces", "tsray timeline [--address URL | TRACE…] -o OUT.json", "See `tsray timeline --help`."),
  explain: moduleCommand("explain", "tell a trace in prose, or step through it", "tsray explain TRACE… [--task ID | --object ID | --node ID] [--step]", "See `tsray explain --help`."),
  trace: moduleCommand("trace", "draw a trace as a mermaid sequence diagram", "tsray trace TRACE… --mermaid [--from T --to T | --task ID]", "See `tsray trace --help`."),
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    "tsray — Ray's core as deterministic state machines: a simulator, an embedded cluster, daemons.",
    "",
    "Usage: tsray <command> [options]",
    "",
    "Commands:",
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `tsray <command> --help` for a command's options. `tsray --version` prints the version.",
    "",
  ].join("\n");
}

function commandHelp(c: Command): string {
  return `Usage: ${c.usage}\n\n${c.summary[0].toUpperCase()}${c.summary.slice(1)}.\n\n${c.help}\n`;
}

// ---- the entry point --------------------------------------------------------------------------

export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    if (first === "help" && rest[0] !== undefined) {
      const c = commands[rest[0]];
      if (!c) return usageError(io, undefined, unknownCommand(rest[0]));
      io.stdout.write(commandHelp(c));
      return 0;
    }
    io.stdout.write(mainHelp());
    return 0;
  }
  if (first === "--version" || first === "-v") {
    io.stdout.write(`tsray ${version()}\n`);
    return 0;
  }
  if (first.startsWith("-")) return usageError(io, undefined, `unknown option ${first} before the command; try \`tsray --help\``);
  const c = commands[first];
  if (!c) return usageError(io, undefined, unknownCommand(first));

  if (c.raw) {
    // Their own module parses their flags; without it, at least answer --help.
    const wantsHelp = rest.includes("--help") || rest.includes("-h");
    if (c.raw.module !== undefined && !moduleExists(c.raw.module)) {
      if (wantsHelp) {
        io.stdout.write(commandHelp(c));
        return 0;
      }
      return usageError(io, first, `not available in this build (src/cli/${c.raw.module}.ts is missing)`);
    }
    if (c.raw.module === undefined && wantsHelp) {
      io.stdout.write(commandHelp(c));
      return 0;
    }
    try {
      return await c.run({ values: {}, positionals: [], raw: rest }, io);
    } catch (e) {
      if (e instanceof UsageError) return usageError(io, first, e.message);
      throw e;
    }
  }

  let parsed: Parsed;
  try {
    const { values, positionals } = parseArgs({ args: joinNegativeValues(rest, c.options), options: { ...c.options, ...HELP_FLAG }, allowPositionals: true, strict: true });
    parsed = { values: values as Parsed["values"], positionals, raw: rest };
  } catch (e) {
    return usageError(io, first, explainParseError(e as Error & { code?: string }, c));
  }
  if (parsed.values.help) {
    io.stdout.write(commandHelp(c));
    return 0;
  }
  const n = parsed.positionals.length;
  if (n < c.positionals.min) return usageError(io, first, `missing ${c.positionals.names}\nusage: ${c.usage}`);
  if (n > c.positionals.max) return usageError(io, first, `unexpected argument ${JSON.stringify(parsed.positionals[c.positionals.max])}\nusage: ${c.usage}`);
  try {
    return await c.run(parsed, io);
  } catch (e) {
    if (e instanceof UsageError) return usageError(io, first, e.message);
    throw e;
  }
}

/** `--seed -3` → `--seed=-3`, so a negative number is taken as the value, not as a flag. */
function joinNegativeValues(args: readonly string[], options: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = args[i + 1];
    if (a.startsWith("--") && options[a.slice(2)]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function usageError(io: Io, cmd: string | undefined, message: string): number {
  io.stderr.write(`${cmd ? `tsray ${cmd}` : "tsray"}: ${message}\n`);
  return 2;
}

function unknownCommand(name: string): string {
  const near = closest(name, Object.keys(commands));
  return `unknown command "${name}"${near ? ` (did you mean "${near}"?)` : ""}; commands: ${Object.keys(commands).join(", ")}`;
}

function explainParseError(e: Error & { code?: string }, c: Command): string {
  const flags = Object.keys(c.options);
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const m = /'(-[^']*)'/.exec(e.message);
    const flag = m ? m[1] : "?";
    const near = closest(flag.replace(/^-+/, "").split("=")[0], flags);
    const known = flags.length > 0 ? `; options: ${flags.map((f) => `--${f}`).join(", ")}` : "";
    return `unknown option ${flag}${near ? ` (did you mean --${near}?)` : ""}${known}`;
  }
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const m = /Option '(?:-\w, )?(--[\w-]+)/.exec(e.message);
    const flag = m ? m[1] : "an option";
    return c.options[flag.slice(2)]?.type === "boolean" ? `${flag} takes no value` : `${flag} needs a value`;
  }
  return e.message;
}

/** The candidate within edit distance 2 of `s`, or else one that `s` starts with, if any. */
function closest(s: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bd = 3;
  for (const c of candidates) {
    const d = editDistance(s, c);
    if (d < bd) { bd = d; best = c; }
  }
  return best ?? (s.length > 0 ? candidates.find((c) => s.startsWith(c)) : undefined);
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

function version(): string {
  try {
    return JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
  } catch {
    return "unknown";
  }
}

// ---- sim --------------------------------------------------------------------------------------

function intFlag(v: string | boolean | undefined, name: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const s = String(v).trim();
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(String(v))}`);
  const n = Number(s);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

function numberFlag(v: string | boolean | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(String(v).trim());
  if (String(v).trim() === "" || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a number greater than 0, got ${JSON.stringify(String(v))}`);
  return n;
}

/** Imports FILE and returns its default export, which must be a program `(ray) => value`. */
async function loadProgram(file: string, cwd: string): Promise<(ray: never) => unknown> {
  const path = resolve(cwd, file);
  if (!existsSync(path)) throw new UsageError(`no such file: ${file}`);
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (e) {
    throw new UsageError(`could not load ${file}: ${(e as Error).message}`);
  }
  const program = mod.default;
  if (typeof program !== "function") {
    throw new UsageError(`${file} must have a default export that is a program, e.g. \`export default async (ray) => value\`` +
      (program === undefined ? " (it has no default export)" : ` (its default export is a ${typeof program})`));
  }
  return program as (ray: never) => unknown;
}

/** A fault plan from a JSON file, or inline JSON (anything starting with "{"). */
function readFaults(spec: string, cwd: string): unknown {
  let text = spec;
  if (!spec.trimStart().startsWith("{")) {
    try {
      text = readFileSync(resolve(cwd, spec), "utf8");
    } catch (e) {
      throw new UsageError(`--faults: cannot read ${spec}: ${(e as { code?: string }).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--faults: ${spec === text ? "the plan" : spec} is not JSON: ${(e as Error).message}`);
  }
}

function quoteArg(s: string): string {
  return /^[\w./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A JSON rendering of a program's result that never throws (bigints, cycles, functions…). */
function show(v: unknown): string {
  if (v === undefined) return "undefined";
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s;
  } catch {
    /* fall through to inspect */
  }
  return inspect(v, { depth: 6, breakLength: Infinity });
}

function jsonSafe(v: unknown): unknown {
  try {
    return v === undefined ? null : JSON.parse(JSON.stringify(v));
  } catch {
    return inspect(v, { depth: 6, breakLength: Infinity });
  }
}

/** `tsray sim --replay CASE.json`: one saved scenario, exactly as the property tests ran it. */
async function runReplay(a: Parsed, io: Io): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const file = a.values.replay as string;
  if (a.positionals.length > 0) throw new UsageError("--replay takes a saved scenario, not a program FILE");
  // The scenario fixes its seed, cluster, faults and bugs: any other option would be ignored.
  const extra = Object.keys(a.values).filter((k) => a.values[k] !== undefined && k !== "replay" && k !== "trace");
  if (extra.length > 0) throw new UsageError(`--replay takes only --trace (the scenario fixes the rest), not ${extra.map((k) => `--${k}`).join(", ")}`);
  let scenario: unknown;
  try {
    scenario = JSON.parse(readFileSync(resolve(cwd, file), "utf8"));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(`--replay: ${code === "ENOENT" ? `no such file: ${file}` : `${file} is not a JSON scenario: ${(e as Error).message}`}`);
  }
  const s = scenario as Record<string, unknown>;
  if (typeof s !== "object" || s === null || !Array.isArray(s.nodes) || typeof s.workload !== "object" || typeof s.faults !== "object") {
    throw new UsageError(`--replay: ${file} is not a scenario (it needs seed, nodes, workload and faults)`);
  }
  const { runScenario } = await import("../../sim/scenario.ts");
  const { about, ...rest } = s;
  const v = await runScenario(rest as never);
  if (typeof a.values.trace === "string") writeFileSync(resolve(cwd, a.values.trace), formatTrace(v.faulty.trace));
  const lines = [
    ...(typeof about === "string" ? [`about       ${about}`] : []),
    `verdict     ${v.ok ? "ok: every invariant held" : `${v.problems.length} problem${v.problems.length === 1 ? "" : "s"}`}`,
    `trace hash  ${v.faulty.traceHash} (fault-free run ${v.reference.traceHash})`,
    `virtual     ${v.faulty.virtualTimeMs.toFixed(3)} ms, ${v.faulty.events} simulated events`,
    `replay      tsray sim --replay ${quoteArg(file)}`,
  ];
  io.stdout.write(lines.join("\n") + "\n" + (v.ok ? "" : `\n${v.problems.join("\n")}\n`));
  return v.ok ? 0 : 1;
}

/** `--autoscale CONFIG`: a JSON file or inline JSON, checked field by field. */
async function readAutoscale(spec: string, rate: string | boolean | undefined, cwd: string) {
  const { parseAutoscaling } = await import("../runtime/autoscaler/config.ts");
  let text = spec;
  if (!spec.trimStart().startsWith("{")) {
    try { text = readFileSync(resolve(cwd, spec), "utf8"); } catch (e) { throw new UsageError(`--autoscale: cannot read ${spec}: ${(e as Error).message}`); }
  }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new UsageError(`--autoscale: ${spec === text ? "the configuration" : spec} is not JSON: ${(e as Error).message}`); }
  const launchFailureRate = rate === undefined ? 0 : numberFlag(rate, "launch-failure-rate", 0);
  if (!(launchFailureRate >= 0 && launchFailureRate < 1)) throw new UsageError(`--launch-failure-rate must be in [0, 1), got ${String(rate)}`);
  try {
    return { autoscaling: parseAutoscaling(raw), provisionMs: [1000, 5000] as const, launchFailureRate };
  } catch (e) {
    throw new UsageError(`--autoscale: ${(e as Error).message}`);
  }
}

async function runSim(a: Parsed, io: Io): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  if (a.positionals.length === 0) throw new UsageError(`missing FILE (or --replay CASE.json)\nusage: ${sim.usage}`);
  const file = a.positionals[0];
  const seed = intFlag(a.values.seed as string | undefined, "seed", 1, Number.MIN_SAFE_INTEGER);
  const nodeFlags = (a.values.node as string[] | undefined) ?? [];
  if (nodeFlags.length > 0 && (a.values.nodes !== undefined || a.values.cpus !== undefined)) throw new UsageError("--node gives each node's resources: it cannot be combined with --nodes or --cpus");
  const shapes = nodeFlags.length > 0 ? parseSimFlag(() => parseNodeShapes(nodeFlags)) : undefined;
  const nodes = shapes ?? intFlag(a.values.nodes as string | undefined, "nodes", 1, 1);
  const cpus = numberFlag(a.values.cpus as string | undefined, "cpus", 4);
  const storeBytes = a.values["store-bytes"] === undefined ? undefined : intFlag(a.values["store-bytes"] as string, "store-bytes", 0, 1);
  const bugs = parseSimFlag(() => parseBugFlags((a.values.bug as string[] | undefined) ?? []));
  const faults = typeof a.values.faults === "string" ? readFaults(a.values.faults, cwd) : undefined;
  const autoscaling = typeof a.values.autoscale === "string" ? await readAutoscale(a.values.autoscale, a.values["launch-failure-rate"] as string | undefined, cwd) : undefined;
  if (autoscaling === undefined && a.values["launch-failure-rate"] !== undefined) throw new UsageError("--launch-failure-rate goes with --autoscale");
  const program = await loadProgram(file, cwd);
  const { simulate } = await import("../../sim/simulate.ts");
  const config = { bugs, traceMessages: a.values.messages === true, ...(storeBytes === undefined ? {} : { storeCapacity: storeBytes }) };

  let r: Awaited<ReturnType<typeof simulate>>;
  try {
    r = await simulate({ seed, nodes, resources: { CPU: cpus }, program: program as never, faults: faults as never, config: { ...config, ...(autoscaling ? { autoscaling } : {}) } });
  } catch (e) {
    // simulate() rejects bad input (a fault plan naming an unknown node, …) before running.
    if ((e instanceof TypeError || e instanceof RangeError) && /^(fault plan|nodes must|seed must|simulate:)/.test(e.message)) throw new UsageError(e.message);
    throw e;
  }
  const replay = ["tsray", "sim", quoteArg(file), "--seed", String(seed)];
  if (shapes) for (const f of nodeFlags) replay.push("--node", quoteArg(f));
  else replay.push("--nodes", String(nodes));
  if (a.values.cpus !== undefined) replay.push("--cpus", String(cpus));
  if (storeBytes !== undefined) replay.push("--store-bytes", String(storeBytes));
  for (const b of bugs) replay.push("--bug", b);
  if (a.values.messages) replay.push("--messages");
  if (typeof a.values.faults === "string") replay.push("--faults", quoteArg(a.values.faults));
  if (typeof a.values.autoscale === "string") replay.push("--autoscale", quoteArg(a.values.autoscale));
  if (typeof a.values["launch-failure-rate"] === "string") replay.push("--launch-failure-rate", a.values["launch-failure-rate"]);
  const replayLine = replay.join(" ");

  let tracePath: string | undefined;
  if (typeof a.values.trace === "string") {
    tracePath = resolve(cwd, a.values.trace);
    try {
      writeFileSync(tracePath, formatTrace(r.trace));
    } catch (e) {
      io.stderr.write(`tsray sim: could not write the trace to ${a.values.trace}: ${(e as Error).message}\n`);
      return 2;
    }
  }

  const failed = r.error !== undefined || r.violations.length > 0;
  if (a.values.json) {
    io.stdout.write(JSON.stringify({
      ok: !failed,
      result: jsonSafe(r.result),
      error: r.error ? { name: r.error.name, message: r.error.message } : null,
      traceHash: r.traceHash,
      virtualTimeMs: r.virtualTimeMs,
      events: r.events,
      traceLength: r.traceLength,
      violations: r.violations,
      happened: tally(r.trace),
      seed, nodes: r.nodes.map((n) => n.id), cpus,
      trace: tracePath ?? null,
      replay: replayLine,
    }) + "\n");
    return failed ? 1 : 0;
  }

  const lines: [string, string][] = [];
  if (r.error) lines.push(["error", `${r.error.name}: ${r.error.message}`]);
  else lines.push(["result", show(r.result)]);
  lines.push(
    ["trace hash", r.traceHash],
    ["virtual time", `${r.virtualTimeMs.toFixed(3)} ms`],
    ["events", `${r.events} simulated, ${r.traceLength} traced`],
    ...formatTally(tally(r.trace)).map((l, i): [string, string] => [i === 0 ? "happened" : "", l]),
    ["invariants", r.violations.length === 0 ? "ok" : `${r.violations.length} violation${r.violations.length === 1 ? "" : "s"}`],
  );
  if (autoscaling) {
    const count = (kind: string) => r.trace.filter((e) => e.kind === kind).length;
    lines.push(["autoscaler", `${count("autoscaler.launch")} launched, ${count("autoscaler.launch-failed")} failed to start, ${count("autoscaler.terminated")} removed`]);
  }
  if (tracePath) lines.push(["trace", a.values.trace as string]);
  lines.push(["replay", replayLine]);
  const w = Math.max(...lines.map(([k]) => k.length));
  let out = lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n";
  if (r.violations.length > 0) out += `\n${formatViolations(r.violations)}\n`;
  io.stdout.write(out);
  if (r.error?.stack && r.error.name !== "Error") io.stderr.write(`${r.error.stack}\n`);
  return failed ? 1 : 0;
}

/** Runs a parser of src/cli/sim-options.ts, turning its errors into usage errors. */
function parseSimFlag<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof SimOptionError) throw new UsageError(e.message);
    throw e;
  }
}

// ---- check ------------------------------------------------------------------------------------

async function runCheck(a: Parsed, io: Io): Promise<number> {
  // Several files (one per process of a real cluster) are merged into one history by time.
  const traces: TraceEvent[][] = [];
  for (const file of a.positionals) {
    const path = resolve(io.cwd ?? process.cwd(), file);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new UsageError(code === "ENOENT" ? `no such file: ${file}` : `cannot read ${file}: ${(e as Error).message}`);
    }
    try {
      const { events, torn } = parseTraceTolerant(text);
      if (torn) io.stderr.write(`tsray check: ${file}: ignoring a torn last line (the process died while writing it)\n`);
      traces.push(events);
    } catch (e) {
      throw new UsageError(`${file} is not a trace: ${(e as Error).message}`);
    }
  }
  const events = traces.length === 1 ? traces[0] : mergeTraces(traces);
  const only = typeof a.values.only === "string" ? a.values.only.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
  let violations;
  try {
    violations = checkTrace(events, {}, only);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (violations.length === 0) {
    io.stdout.write(`ok: ${events.length} events, no violations\n`);
    return 0;
  }
  io.stdout.write(`${formatViolations(violations)}\n${violations.length} violation${violations.length === 1 ? "" : "s"} in ${events.length} events\n`);
  return 1;
}

// ---- commands that live in their own modules --------------------------------------------------

function moduleExists(cmd: string): boolean {
  return existsSync(fileURLToPath(new URL(`./${cmd}.ts`, import.meta.url)));
}

async function dispatch(cmd: string, argv: string[]): Promise<number> {
  const url = new URL(`./${cmd}.ts`, import.meta.url);
  const mod = (await import(url.href)) as { main?: (argv: string[]) => unknown };
  if (typeof mod.main !== "function") throw new UsageError(`not available in this build (src/cli/${cmd}.ts exports no main)`);
  const code = await mod.main(argv);
  return typeof code === "number" ? code : 0;
}

// ---- run as a script: `tsx src/cli/main.ts …` ---------------------------------------------

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
    (code) => { process.exitCode = code; },
    (e) => { process.stderr.write(`tsray: internal error: ${(e as Error)?.stack ?? String(e)}\n`); process.exitCode = 70; },
  );
}
