// The `tsray/spec` entry: the trace schema and the checkers that judge traces.
export * from "./trace.ts";
export * from "./invariants/index.ts";
