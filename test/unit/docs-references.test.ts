// Nothing in the repository may point a reader at a file they do not have: no design brief by
// name, no path into the machine the project was written on, and no Markdown link that leaves
// the repository or leads nowhere. The architecture is docs/architecture.md.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = realpathSync(fileURLToPath(new URL("../..", import.meta.url)));
const SELF = relative(ROOT, fileURLToPath(import.meta.url));

/** Text that names a file outside the repository, with why it is refused. */
const OUTSIDE: readonly { readonly re: RegExp; readonly why: string }[] = [
  { re: /\bdesign\.md\b/i, why: "names a design brief that is not in the repository (see docs/architecture.md)" },
  { re: /\.\.\/shared\b/, why: "points outside the repository" },
  { re: /\/work\//, why: "names a path on the machine the project was written on" },
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+)$/gm)) out.add(slug(m[1]));
  return out;
}

/**
 * Every reference in `text` (the file `file`, relative to `root`) that a reader of the
 * repository could not follow, as "line: what — why".
 */
export function findOutsideReferences(file: string, text: string, root: string = ROOT): string[] {
  const found: string[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    for (const { re, why } of OUTSIDE) {
      const m = re.exec(line);
      if (m) found.push(`${i + 1}: "${m[0]}" — ${why}`);
    }
  });
  if (file.endsWith(".md")) {
    lines.forEach((line, i) => {
      // [text](target) and [text](target "title"); the target up to a space or the closing paren.
      for (const m of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [path, anchor] = target.split("#", 2);
        const to = path === "" ? join(root, file) : join(root, dirname(file), decodeURIComponent(path));
        if (to !== root && !to.startsWith(root + sep)) found.push(`${i + 1}: "${target}" — leaves the repository`);
        else if (!existsSync(to)) found.push(`${i + 1}: "${target}" — no such file in the repository`);
        else if (anchor && to.endsWith(".md") && !anchorsOf(readFileSync(to, "utf8")).has(anchor)) {
          found.push(`${i + 1}: "${target}" — no heading with anchor #${anchor}`);
        }
      }
    });
  }
  return found;
}

describe("the matcher (self-check)", () => {
  test("refuses each kind of outside reference, and names the line", () => {
    // The planted names are assembled, so that this file itself names no outside path.
    const brief = ["design", "md"].join("."), shared = ["..", "shared"].join("/"), work = ["", "work", "shared"].join("/");
    const planted = [
      `// as ${brief} §2 says`,
      `see [the brief](../../${brief}) for more`,
      `machine facts: \`${shared}/notes/containers.md\``,
      `read ${work}/notes/kuberay.md`,
      "[up and out](../../../etc/hosts)",
      "[nowhere](missing-page.md)",
      "[bad anchor](architecture.md#no-such-heading)",
    ].join("\n");
    const found = findOutsideReferences("docs/sample.md", planted);
    for (let line = 1; line <= 7; line++) assert.ok(found.some((f) => f.startsWith(`${line}: `)), `missed line ${line}: ${found.join("; ")}`);
  });

  test("lets through links inside the repository, web links and plain prose", () => {
    const clean = [
      "[Architecture](architecture.md), [the one rule](architecture.md#the-one-rule-models-do-no-io)",
      "[README](../README.md), [the specs](../spec/invariants/index.ts), [Ray](https://docs.ray.io/)",
      "a designer's notes, shared memory, network work",
    ].join("\n");
    assert.deepEqual(findOutsideReferences("docs/sample.md", clean), []);
  });
});

describe("every tracked file stays inside the repository", () => {
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter((f) => f !== "" && f !== SELF);

  test("git lists the repository's files", () => {
    for (const must of ["README.md", "docs/architecture.md", "src/core/raylet.ts"]) assert.ok(files.includes(must), `git ls-files lacks ${must}`);
  });

  test("no file names a file the reader does not have", () => {
    const bad: string[] = [];
    for (const f of files) {
      const path = join(ROOT, f);
      if (!existsSync(path)) continue; // deleted in the working tree, not yet committed
      const bytes = readFileSync(path);
      if (bytes.includes(0)) continue; // binary
      for (const r of findOutsideReferences(f, bytes.toString("utf8"))) bad.push(`${f}:${r}`);
    }
    assert.deepEqual(bad, []);
  });
});
