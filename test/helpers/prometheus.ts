// A strict reader of the Prometheus text exposition format (version 0.0.4): every line must be a
// HELP/TYPE comment or a sample `name{label="value",…} number`; anything else throws. Tests use
// it to check that /metrics parses, and to read its values.

export interface Sample { readonly name: string; readonly labels: Record<string, string>; readonly value: number }

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  text.split("\n").forEach((line, i) => {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (line.startsWith("# HELP") || line.startsWith("# TYPE")) {
        if (!m || !new RegExp(`^${NAME}$`).test(m[2])) throw new Error(`bad comment at ${where}`);
        if (m[1] === "TYPE" && !TYPES.has(m[3] ?? "")) throw new Error(`bad metric type at ${where}`);
      }
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample at ${where}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2] !== "") {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < m[2].length) {
        const start = LABEL.lastIndex;
        const l = LABEL.exec(m[2]);
        if (!l || LABEL.lastIndex === start) throw new Error(`bad labels at ${where}`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      }
    }
    const value = parseValue(m[3]);
    if (value === undefined) throw new Error(`bad value at ${where}`);
    out.push({ name: m[1], labels, value });
  });
  return out;
}

/**
 * A sample's value as the format defines it, by Go's strconv.ParseFloat: a number, or NaN, Inf
 * and Infinity with an optional sign, in any letter case (prom-client writes NaN as "Nan", e.g.
 * an event-loop lag with no sample yet, and Prometheus reads it).
 */
function parseValue(text: string): number | undefined {
  if (/^nan$/i.test(text)) return NaN;
  const inf = /^([+-]?)inf(inity)?$/i.exec(text);
  if (inf) return inf[1] === "-" ? -Infinity : Infinity;
  const n = Number(text);
  return text.trim() === text && text !== "" && !Number.isNaN(n) ? n : undefined;
}
