// Generates the trace section of docs/ownership.md from a simulator run of the borrower
// protocol, so the text is what the models do. `npm run docs`; test/unit/ownership-doc.test.ts
// fails if the committed file is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defaultSimConfig } from "../sim/cluster.ts";
import { simulate } from "../sim/simulate.ts";
import type { Ray } from "../src/api/ray.ts";
import type { ObjectRef } from "../src/api/handles.ts";
import type { TraceEvent } from "../spec/trace.ts";
import { narrate } from "./walkthrough.ts";

const short = (id: string) => id.replace(/^head\/driver#/, "#").replace(/^head\/driver$/, "driver");

function narrateOwnership(e: TraceEvent, jobOver: boolean): string | undefined {
  switch (e.kind) {
    case "ref.borrowed": return `\`${short(e.borrower)}\` takes its first hold on \`${short(e.obj)}\` and registers with the owner \`${short(e.owner)}\` (AddBorrower).`;
    case "ref.unborrowed": return `\`${short(e.borrower)}\` drops its last hold on \`${short(e.obj)}\` and tells \`${short(e.owner)}\` (RemoveBorrower).`;
    case "owner.exited": return `\`${short(e.owner)}\` ends: it releases everything it holds.`;
    case "lease.granted": case "lease.returned": case "task.spillback": return undefined;
    case "cluster.quiet": return jobOver
      ? "Quiet again, the job over: every lease is back and every store is empty."
      : "The cluster is quiet; the array stays in head's store, borrowed by the live actor. Then the job ends (the driver process exits).";
    case "driver.dead": return `The GCS declares \`${short(e.driver)}\` gone (the daemons wait 5 s for its stream; the simulator ${defaultSimConfig.driverGraceMs} ms) and publishes its death: its non-detached actors die, the leases it held come back, what it owned is freed.`;
    default: return narrate(e);
  }
}

/** The traced program: a task returns a ref inside its value, an actor keeps it, the driver lets go. */
export const borrowing = async (ray: Ray) => {
  class Keeper {
    kept: ObjectRef<Float64Array> | undefined;
    keep(box: { r: ObjectRef<Float64Array> }) { this.kept = box.r; return 1; }
    async read() { return (await ray.get(this.kept!))[0]; }
  }
  const keeper = ray.remote(Keeper).options({ schedulingStrategy: { nodeId: "node-1", soft: false } }).remote();
  // The task puts a 160 kB array (it owns it) and returns a ref to it inside a small value.
  const make = ray.remote(async () => ({ r: await ray.put(new Float64Array(20_000).fill(7)) }));
  const box = make.remote();
  const { r } = await ray.get(box);
  await ray.get(keeper.keep.remote({ r }));
  ray.release(box);
  ray.release(r);
  await ray.sleep(200);
  return ray.get(keeper.read.remote());
};

const MARK = "<!-- trace -->";
export const ownershipPath = fileURLToPath(new URL("./ownership.md", import.meta.url));

/** The doc with its trace section rendered anew (everything above the marker is prose). */
export async function renderOwnership(prose = readFileSync(ownershipPath, "utf8")): Promise<string> {
  const r = await simulate({ seed: 1, nodes: [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 2 } }], program: borrowing });
  if (r.error || r.violations.length > 0) throw new Error(`the ownership trace did not run cleanly: ${r.error?.message ?? r.violations[0].message}`);
  const rows = ["| t (ms) | node | what happens |", "|---:|---|---|"];
  let jobOver = false;
  for (const e of r.trace) {
    if (e.kind === "driver.dead") jobOver = true;
    const text = narrateOwnership(e, jobOver);
    if (text) rows.push(`| ${e.t.toFixed(2)} | ${e.node} | ${text} |`);
  }
  const head = prose.slice(0, prose.indexOf(MARK) + MARK.length);
  return `${head}\n\nProgram: \`borrowing\` in \`docs/ownership.ts\` · result \`${JSON.stringify(r.result)}\` · trace hash \`${r.traceHash}\` · reproduce: \`npm run docs\`\n\n${rows.join("\n")}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(ownershipPath, await renderOwnership());
  console.log(`wrote ${ownershipPath}`);
}
