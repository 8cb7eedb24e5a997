// Renders an xstate chart as a Mermaid stateDiagram-v2 by walking the machine's state nodes,
// so the diagram in docs can never drift from the chart the tests check.
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate";

export function toMermaid(chart: AnyStateMachine): string {
  return ["stateDiagram-v2", ...nodeLines(chart.root, "  ")].join("\n") + "\n";
}

function nodeLines(node: AnyStateNode, indent: string): string[] {
  const lines: string[] = [];
  const children = Object.values(node.states) as AnyStateNode[];
  for (const t of node.initial?.target ?? []) lines.push(`${indent}[*] --> ${t.key}`);
  for (const child of children) {
    if (child.type === "compound") {
      lines.push(`${indent}state ${child.key} {`, ...nodeLines(child, indent + "  "), `${indent}}`);
    }
    for (const [eventType, ts] of child.transitions) {
      let guardedBefore = false; // an unguarded transition after guarded ones is the "else" branch
      for (const t of ts as AnyTransitionDefinition[]) {
        const guard = t.guard === undefined ? (guardedBefore ? " [else]" : "") : ` [${guardName(t.guard)}]`;
        guardedBefore ||= t.guard !== undefined;
        // A targetless transition is handled in place: draw it as a self-loop.
        for (const target of t.target ?? [child]) lines.push(`${indent}${child.key} --> ${target.key} : ${eventType}${guard}`);
      }
    }
    if (child.type === "final") lines.push(`${indent}${child.key} --> [*]`);
  }
  return lines;
}

// Guards appear as a name ("restartable"), a { type, params } object, or an inline function.
function guardName(g: unknown): string {
  if (typeof g === "string") return g;
  if (typeof g === "function") return g.name || "guard";
  if (typeof g === "object" && g !== null && "type" in g) return String(g.type);
  return "guard";
}
