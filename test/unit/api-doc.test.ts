// docs/api.md is a Ray user's map of tsray's API, so it is checked against the code: it names
// every member of the API object, every option tsray takes (per target, ray.init's and
// ray.placementGroup's) and every Ray option tsray refuses by name; and its "Left out" table
// lists nothing tsray implements (it once listed placement groups long after they landed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { simulate } from "../../sim/simulate.ts";
import { IMPLEMENTED, INIT_NOT_IMPLEMENTED, INIT_OPTIONS, NOT_IMPLEMENTED } from "../../src/api/options.ts";
import { PLACEMENT_GROUP_OPTIONS } from "../../src/api/placement-group.ts";

const DOC = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
const CODE = codeOf(DOC);

/** API members that are not for users, and why the doc need not name them. */
const NOT_USER_API: Readonly<Record<string, string>> = {
  call: "the handles' way in: every RemoteFunction.remote() goes through it",
  callMethod: "the handles' way in: every actor method's .remote() goes through it",
};

/** Names in the "Left out" table that tsray implements in part, and which part is left out. */
const LEFT_OUT_IN_PART: Readonly<Record<string, string>> = {
  numReturns: "implemented for tasks and methods; refused on a generator (static and dynamic generator returns)",
  nodes: "implemented; some fields of Ray's entries are left out",
};

const camel = (snake: string): string => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const snake = (camelName: string): string => camelName.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The code in Markdown `text`: its fenced blocks, and its inline spans outside them. */
function codeOf(text: string): string[] {
  const fences = /^```[^\n]*\n([\s\S]*?)^```$/gm;
  const blocks = [...text.matchAll(fences)].map((m) => m[1]);
  const inline = [...text.replace(fences, "").matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  return [...blocks, ...inline];
}

/** Whether `code` names `name` (`numCpus`, `{ numCpus: 2 }`, `ray.get(ref)`). */
function inCode(code: readonly string[], name: string): boolean {
  const re = new RegExp(`(^|[^\\w])${name}($|[^\\w])`);
  return code.some((c) => re.test(c));
}

/** The section under the level-2 heading that starts with `title`, up to the next one. */
function section(title: string): string {
  const start = DOC.indexOf(`\n## ${title}`);
  assert.ok(start >= 0, `docs/api.md has no section "## ${title}"`);
  const end = DOC.indexOf("\n## ", start + 1);
  return DOC.slice(start, end < 0 ? undefined : end);
}

async function apiMembers(): Promise<string[]> {
  const r = await simulate({ seed: 1, nodes: 1, check: false, program: (ray) => Promise.resolve(Object.keys(ray)) });
  assert.equal(r.error, undefined);
  return r.result as string[];
}

test("docs/api.md names every member of the Ray API object", async () => {
  const members = await apiMembers();
  assert.ok(members.length > 10, `the driver's API has ${members.length} members`);
  const missing = members.filter((m) => !(m in NOT_USER_API) && !inCode(CODE, `ray\\.${m}`));
  assert.deepEqual(missing, [], "docs/api.md does not name these members as `ray.<member>`");
});

test("docs/api.md names every option tsray takes", () => {
  const taken = new Set([...IMPLEMENTED.task, ...IMPLEMENTED.actor, ...IMPLEMENTED.method, ...INIT_OPTIONS, ...PLACEMENT_GROUP_OPTIONS]);
  const missing = [...taken].filter((o) => !inCode(CODE, o));
  assert.deepEqual(missing, [], "docs/api.md does not name these options in inline code");
});

test("docs/api.md names every Ray option tsray refuses by name", () => {
  const refused = [...Object.keys(NOT_IMPLEMENTED), ...Object.keys(INIT_NOT_IMPLEMENTED)];
  const missing = refused.filter((o) => !inCode(CODE, o) && !inCode(CODE, snake(o)));
  assert.deepEqual(missing, [], "docs/api.md does not say these options are refused");
});

test("the \"Left out\" table of docs/api.md lists nothing tsray implements", async () => {
  const implemented = new Set([...IMPLEMENTED.task, ...IMPLEMENTED.actor, ...IMPLEMENTED.method, ...INIT_OPTIONS, ...(await apiMembers())]);
  const rows = section("Left out").split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Ray ") && !l.startsWith("|---"));
  assert.ok(rows.length > 3, `the "Left out" table has ${rows.length} rows`);
  const listed: string[] = [];
  for (const row of rows) {
    const firstColumn = row.split("|")[1];
    for (const code of codeOf(firstColumn)) {
      for (const word of code.match(/[A-Za-z_]\w*/g) ?? []) {
        const name = camel(word);
        if (implemented.has(name) && !(name in LEFT_OUT_IN_PART)) listed.push(`${word} (${name})`);
      }
    }
  }
  assert.deepEqual(listed, [], "the \"Left out\" table lists what tsray implements: move it to \"Covered\"");
});
