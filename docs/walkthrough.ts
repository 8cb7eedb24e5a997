// Generates docs/walkthrough.md: Ray's architecture told by real traces. Each section runs a
// program in the simulator and narrates its trace event by event, so the text is always what
// the code does. `npm run docs`; test/unit/walkthrough.test.ts fails if the file is stale.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { simulate, type SimResult } from "../sim/simulate.ts";
import type { FaultPlan } from "../sim/faults.ts";
import type { Ray } from "../src/api/ray.ts";
import type { TraceEvent } from "../spec/trace.ts";
import add from "../examples/add.ts";
import counter from "../examples/counter.ts";

/** Short, stable names for the ids in a trace (the driver's tasks are `head/driver#N`). */
const short = (id: string) => id.replace(/^head\/driver#/, "#").replace(/^head\/driver$/, "driver");

export function narrate(e: TraceEvent): string | undefined {
  switch (e.kind) {
    case "node.registered": return `The GCS registers node **${e.id}** with ${JSON.stringify(e.resources)} and sends every raylet the new cluster view.`;
    case "node.dead": return `The GCS declares **${e.id}** dead (${e.reason}) and publishes it: owners retry, re-make lost objects, actors restart.`;
    case "node.fenced": return `**${e.id}** learns it was declared dead and fences itself: its workers are killed, its store dropped.`;
    case "worker.died": return `The raylet sees worker \`${e.worker}\` exit and returns its lease's resources.`;
    case "task.submitted": return e.actor
      ? `The caller submits actor call \`${short(e.task)}\` (${e.fn}, seq ${e.seq}) to actor \`${short(e.actor)}\`; its result will be \`${short(e.returns)}\`.`
      : `The owner (${short(e.owner)}) submits task \`${short(e.task)}\` (${e.fn})${e.args.length ? ` taking ${e.args.map(short).join(", ")} as arguments: it waits until they exist` : ""}; its result will be \`${short(e.returns)}\`.`;
    case "task.spillback": return `The raylet on ${e.node} cannot or should not run \`${short(e.task)}\` here (hybrid policy): it spills the lease request back, pointing the owner at **${e.to}**.`;
    case "lease.granted": return `The raylet on ${e.node} grants lease \`${e.lease}\` (${JSON.stringify(e.resources)}) on worker \`${e.worker}\`; the owner will push tasks straight to that worker.`;
    case "lease.returned": return `Lease \`${e.lease}\` goes back to ${e.node}'s raylet (its resources are free again).`;
    case "task.started": return `Worker \`${e.worker}\` starts ${e.actor ? `actor ${e.seq === undefined ? "creation" : "call"}` : "task"} \`${short(e.task)}\`${e.attempt > 0 ? ` (attempt ${e.attempt})` : ""}.`;
    case "task.finished": return `\`${short(e.task)}\` finishes ${e.ok ? `(result hash ${e.hash.slice(0, 8)}…)` : `with an error: ${e.error}`}.`;
    case "task.retry": return `The owner retries \`${short(e.task)}\` as attempt ${e.attempt}: ${e.reason}.`;
    case "object.created": return e.where === "inline"
      ? `The owner stores \`${short(e.obj)}\` (${e.size} bytes) inline in its own memory: small results travel in the reply.`
      : `${e.node}'s object store seals ${e.primary ? "the primary copy" : "a secondary copy"} of \`${short(e.obj)}\` (${e.size} bytes).`;
    case "object.transferred": return `${e.node} pulled \`${short(e.obj)}\` from ${e.from} in chunks and tells the owner it has a copy.`;
    case "object.read": return `${short(e.reader)} reads \`${short(e.obj)}\`.`;
    case "object.lost": return `The owner finds every copy of \`${short(e.obj)}\` gone.`;
    case "object.out-of-scope": return `No reference to \`${short(e.obj)}\` remains: the owner frees it everywhere.`;
    case "object.deleted": return `${e.node}'s store deletes \`${short(e.obj)}\` (${e.reason}).`;
    case "actor.state": return `The GCS moves actor \`${short(e.actor)}\` to **${e.state}**${e.at ? ` on ${e.at}` : ""} (epoch ${e.epoch}) and tells its subscribers.`;
    case "actor.result": return `The caller accepts the answer to \`${short(e.task)}\` from incarnation ${e.epoch}.`;
    case "gcs.recovered": return `A restarted GCS recovers ${e.nodes} nodes and ${e.actors} actors from storage.`;
    case "fault": return `**Fault injected:** ${e.fault}${e.detail ? ` (${e.detail})` : ""}.`;
    case "program.end": return `The program returns; its references are dropped.`;
    case "cluster.quiet": return `The cluster is quiet: every store is empty again.`;
    case "driver.dead": return `The driver has exited, its job is over: the GCS declares it gone and publishes its death (its actors die, its leases come back).`;
    default: return undefined;
  }
}

function table(r: SimResult<unknown>): string {
  const rows = ["| t (ms) | node | what happens |", "|---:|---|---|"];
  for (const e of r.trace) {
    const text = narrate(e);
    if (text) rows.push(`| ${e.t.toFixed(2)} | ${e.node} | ${text} |`);
  }
  return rows.join("\n");
}

interface Section {
  readonly title: string;
  readonly intro: string;
  readonly program: (ray: Ray) => Promise<unknown>;
  readonly source: string;
  readonly command: string;
  readonly nodes: number | { id: string; resources: Record<string, number> }[];
  readonly faults?: FaultPlan;
}

const lineage = async (ray: Ray) => {
  const make = ray.remote((n: number) => new Float64Array(n).fill(7)).options({ schedulingStrategy: { nodeId: "node-1", soft: true } });
  const ref = make.remote(20_000); // 160 kB: too big to return inline, it lives in node-1's store
  await ray.wait([ref]);
  await ray.sleep(1000); // node-1 dies meanwhile
  return (await ray.get(ref))[0];
};

const sections: Section[] = [
  {
    title: "Tasks, refs as arguments, two-level scheduling",
    intro: "The seed's `add(add(1, 2), add(3, 4))` on two nodes. Watch the owner hold the outer task until both inner results exist, the head's raylet spill work to node-1 once its own CPU is busy, leases being reused for the next queued task, and small results travelling inline with the reply instead of through an object store.",
    program: add, source: "examples/add.ts", command: "tsray sim examples/add.ts --seed 1 --nodes 2 --cpus 1", nodes: [{ id: "head", resources: { CPU: 1 } }, { id: "node-1", resources: { CPU: 1 } }],
  },
  {
    title: "An actor's life",
    intro: "The seed's `Counter`. The owner registers the actor with the GCS, which places it (leasing a worker for the actor's whole life) and publishes ALIVE; the calls then go straight from the caller to the actor's worker, in order.",
    program: counter, source: "examples/counter.ts", command: "tsray sim examples/counter.ts --seed 1 --nodes 2", nodes: 2,
  },
  {
    title: "A node dies: lineage reconstruction",
    intro: "A 160 kB result lives only in node-1's store. node-1 crashes; the GCS notices the missing heartbeats, declares it dead and publishes the news; the owner finds the object lost and re-runs the task that made it, elsewhere. The program never sees the failure.",
    program: lineage, source: "docs/walkthrough.ts (`lineage`)", command: "npm run docs", nodes: [{ id: "head", resources: { CPU: 0 } }, { id: "node-1", resources: { CPU: 2 } }, { id: "node-2", resources: { CPU: 2 } }],
    faults: { schedule: [{ at: 100, kind: "kill-node", node: "node-1" }] },
  },
];

export async function renderWalkthrough(): Promise<string> {
  const parts = [
    "# Walkthrough: Ray's architecture from real traces",
    "",
    "<!-- Generated by docs/walkthrough.ts (`npm run docs`) from simulator traces; do not edit by hand. -->",
    "",
    "Every row below is an event of a real run of tsray's models in the simulator (seed 1), in order, with the",
    "virtual time it happened at and the node it happened on. Heartbeats and resource-view broadcasts run all the",
    "time and are left out. Ids are shortened: `#3` is the driver's third task, `#3.r` its result.",
  ];
  for (const s of sections) {
    const r = await simulate({ seed: 1, nodes: s.nodes, program: s.program, faults: s.faults });
    if (r.error || r.violations.length > 0) throw new Error(`walkthrough "${s.title}" did not run cleanly: ${r.error?.message ?? r.violations[0].message}`);
    parts.push("", `## ${s.title}`, "", s.intro, "", `Program: \`${s.source}\` · result \`${JSON.stringify(r.result)}\` · trace hash \`${r.traceHash}\` · reproduce: \`${s.command}\``, "", table(r));
  }
  return parts.join("\n") + "\n";
}

export const walkthroughPath = fileURLToPath(new URL("./walkthrough.md", import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(walkthroughPath, await renderWalkthrough());
  console.log(`wrote ${walkthroughPath}`);
}
