// The course's chapters (rendered by docs/learn.ts): what each teaches, the run that shows it,
// and the seeded bug that breaks it. The prose explains the mechanism; the generated parts of
// each page (report, table, diagram, checker output) come from the runs themselves.
import type { DiagramOptions } from "../src/explain/mermaid.ts";
import type { SeededBug } from "../src/core/bugs.ts";

export interface Chapter {
  readonly slug: string;
  readonly title: string;
  /** One line for the index. */
  readonly summary: string;
  readonly concept: string;
  /** The program file (a default-export program), relative to the repository root. */
  readonly program: string;
  /** `tsray sim` flags after the file. */
  readonly flags: readonly string[];
  readonly predict: string;
  /** What to notice in the trace, after it is shown. */
  readonly explain: string;
  readonly bug: SeededBug;
  /** What the checkers' output means. */
  readonly breakNote: string;
  /** The part of the trace the table and diagram show (all of it by default). */
  readonly window?: DiagramOptions;
  readonly diagramLimit?: number;
}

const kill = (node: string, at: number) => JSON.stringify({ schedule: [{ at, kind: "kill-node", node }] });

export const chapters: readonly Chapter[] = [
  {
    slug: "tasks-and-leases",
    title: "Tasks and leases",
    summary: "two-level scheduling: an owner leases a worker from a raylet, then pushes tasks to it directly",
    concept: [
      "In Ray a task is submitted by its **owner**, the process that called `f.remote()` (here the driver). The owner does",
      "not hand the task to a central scheduler: it asks its local **raylet** for a **lease** on a worker with the task's",
      "resources, and once granted it pushes the task straight to that worker and gets the reply straight back. A lease",
      "outlives one task: while the owner has more queued tasks of the same shape it reuses the lease, and it returns the",
      "lease when its queue is empty. Arguments that are refs make the owner hold a task back until they exist.",
    ].join("\n"),
    program: "examples/add.ts",
    flags: ["--node", "head:CPU=1", "--node", "node-1:CPU=1"],
    predict: "`add(add(1, 2), add(3, 4))` on two 1-CPU nodes: how many leases will be granted, and on which nodes will the three tasks run? Will the head's raylet send any request to node-1?",
    explain: [
      "The owner asks for leases for the two independent tasks at once (the third waits for its arguments). The head's raylet",
      "grants one lease on its only CPU and, by the hybrid policy (chapter 4), spills the other request back, pointing the owner",
      "at node-1. But the head's worker runs `#1` in a fraction of a millisecond, and the owner pushes its queued `#2` onto the",
      "lease it already holds. The third task, once its arguments exist, gets a new lease on the same worker: all three tasks",
      "run on the head. node-1's raylet grants the spilled-back lease only after the program is over (starting its worker took",
      "5 ms), and the owner, with nothing left to run, returns it unused. Leases are the unit of scheduling; tasks ride on them.",
    ].join("\n"),
    bug: "leak-lease",
    breakNote: "With `leak-lease` the owner never returns a lease it no longer needs: the program still gets its answer, but the `leases` checker finds leases still held after the program ended, and the workers' resources are lost to the cluster.",
  },
  {
    slug: "ownership",
    title: "Ownership: inline and stored objects",
    summary: "small results travel in the reply, big ones live in a node's store; the owner counts references",
    concept: [
      "Every object has an **owner**: the worker that submitted the task that makes it (or called `ray.put`). The owner keeps",
      "the object's metadata (where its copies are, who uses it) and decides when it is freed. Small results (up to 100 kB in",
      "Ray, and in tsray) are returned **inline** in the task's reply and kept in the owner's memory; bigger ones are sealed in",
      "the **object store** of the node that ran the task (the primary copy), and only their location travels. The owner counts",
      "references: its own `ObjectRef`s, pending tasks that take the object as an argument, and borrowers (chapter 3).",
    ].join("\n"),
    program: "examples/learn/ownership.ts",
    flags: ["--nodes", "2"],
    predict: "Which of the four values will be stored inline in the driver, and which in a node's object store? After `ray.release(put)`, when is the put object freed?",
    explain: [
      "`42` comes back inline; the 160 kB array is sealed in a store; `ray.put` seals the driver's array in the head's store.",
      "Releasing `put` while two tasks still take it as their argument does not free it: the owner counts those two pending uses,",
      "and the object goes out of scope only when the second task finishes. Then the owner tells every node holding a copy to",
      "delete it.",
    ].join("\n"),
    bug: "double-decref",
    breakNote: "With `double-decref` the owner decrements an argument's count twice when a task finishes: the put object goes out of scope while the second task still needs it. The `references` checker sees an object freed while a pending task takes it, and the task fails with an `ObjectLostError` no fault explains (`errors-earned`).",
  },
  {
    slug: "borrowing",
    title: "Borrowing",
    summary: "a ref passed inside a value makes the receiver a borrower, which keeps the object alive",
    concept: [
      "A ref passed as a top-level argument is resolved for the task: the task gets the value. A ref nested inside a value",
      "(an array, an object) arrives as a ref, and the worker that keeps it becomes a **borrower**. It registers with the",
      "owner, and the owner keeps the object alive for as long as any borrower holds it, even after the owner's own references",
      "are gone. When the borrower lets go it tells the owner, and the object can be freed. This is Ray's distributed",
      "reference counting: the owner is the single place that decides, borrowers report to it.",
    ].join("\n"),
    program: "examples/learn/borrowing.ts",
    flags: ["--nodes", "2"],
    predict: "The driver releases its ref right after handing it to the actor. Will the actor's later `sum()` still read the array? When will the object finally be freed?",
    explain: [
      "The `ref.borrowed` row is the actor's worker registering as a borrower. The driver's `ray.release` does not free the",
      "object: the owner still counts the borrower. Only after `drop()` releases the kept ref (`ref.unborrowed`: the borrower",
      "tells the owner it holds nothing) does the object go out of scope and leave the store. In Ray, Python's own reference",
      "counting tells the worker when the last reference goes; JavaScript's garbage collection is neither prompt nor",
      "deterministic, so a tsray program lets go with `ray.release` (or when its task ends).",
    ].join("\n"),
    bug: "free-borrowed",
    breakNote: "With `free-borrowed` the owner frees an object while a borrower still holds it: the actor's `sum()` fails with `ObjectLostError`. The `references` checker reports the object going out of scope while the actor's worker still borrows it.",
  },
  {
    slug: "hybrid-policy",
    title: "The hybrid policy and spillback",
    summary: "pack locally below 50% load, then spread to a random pick among the top-k least loaded nodes",
    concept: [
      "Ray's default scheduling policy is **hybrid**. A raylet asked for a lease keeps the work local while its node's most used",
      "resource is below the **spread threshold** (50%, Ray's `scheduler_spread_threshold`); past it, it ranks the nodes that can",
      "run the task now by utilization (nodes under the threshold count as 0) and picks at random among the **top k** (20% of",
      "them, at least one, as Ray's `scheduler_top_k_fraction`). If the pick is another node, the raylet does not forward the",
      "task: it **spills back**, replying to the owner with the node to ask, and the owner sends its request there. A spilled-back",
      "request must be granted where it lands, so a request is never bounced twice.",
    ].join("\n"),
    program: "examples/learn/hybrid.ts",
    flags: ["--node", "head:CPU=2", "--node", "node-1:CPU=2", "--node", "node-2:CPU=2"],
    predict: "Eight 20 ms tasks on three 2-CPU nodes, all submitted by the driver on the head. How many run on the head? How many spillbacks will there be, and why not more?",
    explain: [
      "The head grants leases while it is below half used; then its raylet spills requests to the least loaded nodes, which grant",
      "them (a spilled-back request is granted where it lands). The owner reuses each lease for queued tasks of the same shape,",
      "so eight tasks need fewer leases than tasks, and fewer spillbacks than you might expect. The report counts them.",
    ].join("\n"),
    bug: "leak-lease",
    breakNote: "The same lease leak as in chapter 1, now on every node the policy spread work to: the `leases` checker names each lease never returned, on the head and on the nodes the requests were spilled to.",
  },
  {
    slug: "object-transfer",
    title: "Object transfer",
    summary: "a task's argument in another node's store is pulled in chunks before the lease is granted",
    concept: [
      "An object in a node's store is read where it is. When a task needs an argument that lives in another node's store, the",
      "raylet that will run it first asks the owner where the object is, then **pulls** it from a node holding a copy, in",
      "chunks, and seals a secondary copy in its own store. It tells the owner about its copy (so the owner can free it later)",
      "and only then grants the lease: the task starts with its arguments local. The head here has no CPUs (`--node head:CPU=0`),",
      "so nothing runs there.",
    ].join("\n"),
    program: "examples/learn/transfer.ts",
    flags: ["--node", "head:CPU=0", "--node", "node-1:CPU=1", "--node", "node-2:CPU=1"],
    predict: "The array is made on node-1 and summed on node-2. How many copies of it will exist, on which nodes, and which one is the primary? Who deletes them at the end?",
    explain: [
      "node-1 seals the primary copy. node-2's raylet asks the owner for the object's locations, pulls the chunks from node-1 and",
      "seals a secondary copy before it grants the lease for `sum`. When the result is read, the driver drops its refs and the",
      "owner frees both copies.",
    ].join("\n"),
    bug: "leak-lease",
    breakNote: "The run still computes the sum, but the leases the owner took on node-1 and node-2 are never returned: the `leases` checker's report. (This run has no fault, so bugs that only matter under faults go unnoticed here: the property tests of `npm test` run thousands of generated workloads under faults to catch those.)",
  },
  {
    slug: "spilling",
    title: "Spilling",
    summary: "a full store spills primary copies to external storage and restores them on read",
    concept: [
      "A node's object store has a fixed capacity (`--store-bytes`). Secondary copies can simply be evicted (another copy",
      "exists), but a **primary** copy is the one the owner relies on: under memory pressure the store **spills** it to external",
      "storage (in Ray, local disk or cloud storage) and frees its memory, keeping a record of where it went. A later read",
      "**restores** it into memory. Spilling keeps the object alive; eviction does not.",
    ].join("\n"),
    program: "examples/learn/spilling.ts",
    flags: ["--store-bytes", "400000"],
    predict: "Four 160 kB arrays in a 400 kB store, all kept by the driver. How many spills and restores? Could a put fail?",
    explain: [
      "The third put does not fit: the store spills the oldest primary copy to make room, and again for the fourth. Reading all",
      "four restores the spilled ones (spilling others in turn if needed). Nothing is lost and no put fails.",
    ].join("\n"),
    bug: "evict-primary",
    breakNote: "With `evict-primary` the store evicts primary copies like secondary ones instead of spilling them: the objects made by `ray.put` have no lineage to rebuild them from, so the read fails with `ObjectLostError`, and `errors-earned` reports that error without any fault to explain it.",
  },
  {
    slug: "lineage",
    title: "Lineage reconstruction",
    summary: "a lost object is re-made by re-running the task that made it",
    concept: [
      "An object's owner keeps its **lineage**: the task spec that made it. When every copy of an object is lost (its node",
      "died) and the owner still needs it, the owner **re-runs** that task (within its `maxRetries`), elsewhere. This works",
      "because tasks are deterministic functions of their arguments. Objects made by `ray.put` have no lineage and cannot be",
      "rebuilt. Failure detection is the GCS's: a node that misses heartbeats for long enough is declared dead and the news is",
      "published to every owner.",
    ].join("\n"),
    program: "examples/learn/lineage.ts",
    flags: ["--node", "head:CPU=0", "--node", "node-1:CPU=2", "--node", "node-2:CPU=2", "--faults", kill("node-1", 100)],
    predict: "node-1 dies at 100 ms, while the program sleeps. When does the GCS notice, and what does the owner do then: right away, or only when the program reads the object?",
    explain: [
      "The kill is silent: the GCS declares node-1 dead only after its missed heartbeats (at 500 ms), then publishes it. The",
      "owner drops node-1 from the object's locations; with no copy left, the object is lost, and the owner resubmits its task",
      "(`task.retry` \"reconstructing\"), which runs on node-2. By the time the program's `ray.get` runs, the value is back.",
    ].join("\n"),
    bug: "no-reconstruction",
    breakNote: "With `no-reconstruction` a lost object fails at once: the program gets `ObjectLostError`, and the `lineage` checker reports that the object was not rebuilt though its owner lived and retries remained.",
  },
  {
    slug: "actors",
    title: "Actors and restarts",
    summary: "the GCS places and restarts actors; a new incarnation has a new epoch and fresh state",
    concept: [
      "An actor is a worker leased for its whole life. Its owner registers it with the **GCS**, which schedules it (asking a",
      "raylet for a lease, as an owner would for a task), and publishes its state: `PENDING_CREATION`, `ALIVE`, `RESTARTING`,",
      "`DEAD`. Callers send method calls straight to the actor's worker, in order. If the actor's node dies and `maxRestarts`",
      "allows, the GCS restarts it elsewhere as a new **incarnation** with a higher epoch; its in-memory state starts over. Calls",
      "are retried on the new incarnation within `maxTaskRetries`, and callers accept answers only from the live epoch.",
    ].join("\n"),
    program: "examples/learn/actor-restart.ts",
    flags: ["--node", "head:CPU=0", "--node", "node-1:CPU=2", "--node", "node-2:CPU=2", "--faults", kill("node-1", 100)],
    predict: "The counter answers 1, then its node dies. What will the second call return: 2 or 1? On which node, with which epoch?",
    explain: [
      "After node-1 is declared dead, the GCS moves the actor to RESTARTING, places it on another live node and publishes ALIVE",
      "with epoch 1. (Here that is the CPU-less head: a tsray actor asks for no resources unless given `numCpus`, whereas Ray's",
      "default actor needs 1 CPU to be placed.)",
      "The new incarnation's counter starts at 0, so the second call answers 1: an actor's state is not saved across restarts",
      "(checkpointing it is the application's job, as in Ray).",
    ].join("\n"),
    bug: "no-actor-epoch",
    breakNote: "With `no-actor-epoch` the GCS restarts the actor without bumping its epoch: the restart's creation task has the same id and attempt as the first, so the `budgets` checker sees attempt 0 run twice, and incarnations can no longer be told apart.",
  },
  {
    slug: "gcs-restart",
    title: "GCS restart (fault tolerance)",
    summary: "the GCS persists its tables; a restarted GCS recovers nodes and actors while work goes on",
    concept: [
      "The GCS holds the cluster's control state: nodes, actors, placement groups, named actors, functions. Ray makes it",
      "fault tolerant by persisting those tables (to Redis in Ray; to a storage backend in tsray) so a restarted GCS reloads them.",
      "While the GCS is down, tasks and actor calls already under way keep running, since owners and workers talk to each other",
      "directly; what needs the GCS (placing a new actor, looking up a name, declaring deaths) waits. On restart the raylets",
      "re-register and the GCS recovers its actors.",
    ].join("\n"),
    program: "examples/learn/gcs-restart.ts",
    flags: ["--nodes", "2", "--faults", JSON.stringify({ schedule: [{ at: 50, kind: "restart-gcs", downMs: 200 }] })],
    predict: "The GCS is down from 50 ms to 250 ms. Will `ray.getActor(\"counter\")` after the restart find the actor? Will the actor have restarted (and lost its count)?",
    explain: [
      "`gcs.recovered` reports the nodes and actors the new GCS read back from storage. The actor's worker never stopped, so",
      "the actor is not restarted: the call through the handle found by name answers 2. The report counts one GCS recovery and",
      "no restart.",
    ].join("\n"),
    bug: "gcs-forgets-actors",
    breakNote: "With `gcs-forgets-actors` the GCS does not persist actors: after the restart the name lookup fails, and the `gcs-durability` checker reports the actor lost by the restart. `fate-sharing` reports it too: the forgotten actor's worker lives on after its driver's job ended, as nothing kills what the GCS no longer knows.",
  },
  {
    slug: "fencing",
    title: "Fencing and split brain",
    summary: "a node declared dead must stop: it fences itself when it learns, so no stale work escapes",
    concept: [
      "A partition looks like a death: the GCS cannot tell a node that is cut off from one that crashed, so after missed",
      "heartbeats it declares the node dead and the owners retry its work elsewhere. But the cut-off node is alive and still",
      "running that work, a **split brain**. When the partition heals and the node hears it was declared dead, it **fences**",
      "itself: it kills its workers and drops its store, and only a restart (re-registering as a new incarnation) brings it",
      "back. In Ray, a raylet that learns it was marked dead exits for the same reason.",
    ].join("\n"),
    program: "examples/learn/fencing.ts",
    flags: ["--node", "head:CPU=0", "--node", "node-1:CPU=2", "--node", "node-2:CPU=2", "--faults", JSON.stringify({ schedule: [{ at: 50, until: 750, kind: "partition", groups: [["head", "node-2"], ["node-1"]] }] })],
    predict: "node-1 is cut off from 50 ms to 750 ms. When is it declared dead? After the partition heals, does the parent task still running on node-1 start more children?",
    explain: [
      "node-1 is declared dead at 500 ms and the driver retries the parent on node-2 (which runs all forty children again). The",
      "first parent, still alive on node-1, keeps running its children through the partition; at about 751 ms node-1 hears it",
      "is dead and fences itself, so no task starts there afterwards.",
    ].join("\n"),
    window: { from: 490, to: 830 },
    bug: "no-fencing",
    breakNote: "With `no-fencing` node-1 notes that it was declared dead but keeps its workers: the cut-off parent goes on starting children on a node the cluster wrote off. The `split-brain` checker reports every task started on node-1 after its fence.",
  },
  {
    slug: "placement-groups",
    title: "Placement groups",
    summary: "bundles reserved atomically across nodes (two-phase), tasks charged to their bundle",
    concept: [
      "A **placement group** reserves **bundles** of resources across nodes, all or nothing, for gang scheduling. The GCS picks",
      "nodes for the bundles by the group's strategy (PACK, SPREAD, STRICT_PACK, STRICT_SPREAD), then reserves them in two",
      "phases: **prepare** on every chosen raylet, then **commit** once all prepared (or release them all if one failed). A task",
      "scheduled into a bundle is charged to the bundle, not to its node's free resources, and can never exceed it.",
    ].join("\n"),
    program: "examples/learn/placement-groups.ts",
    flags: ["--nodes", "3", "--cpus", "1"],
    predict: "Two 1-CPU bundles, STRICT_SPREAD, on three 1-CPU nodes; four tasks, two per bundle. On how many distinct nodes do the tasks run, and can two tasks of one bundle run at once?",
    explain: [
      "The GCS places the two bundles on two distinct nodes, prepares and commits them (`bundle.reserved`, then the group",
      "`CREATED`). Each bundle has one CPU, so its two tasks run one after the other on its lease. Removing the group releases",
      "the bundles. The tasks were submitted before the group existed: they wait as pending demands (`task.infeasible`), and",
      "the head's raylet places them again when the cluster view changes. Bundle 0's tasks run on the head at once; bundle 1's",
      "wait for the next view (every 100 ms) to be spilled back to node-1, where bundle 1 lives.",
    ].join("\n"),
    bug: "bundle-overcommit",
    breakNote: "With `bundle-overcommit` a raylet grants leases in a bundle without checking the bundle has room: the raylet model's own assertion stops the run (`InvariantError`: the bundle's CPU would go negative), and the `liveness` checker reports the program never finished.",
  },
  {
    slug: "autoscaling",
    title: "Autoscaling",
    summary: "pending demands read by the autoscaler: worker nodes launched by bin-packing, drained when idle",
    concept: [
      "The **autoscaler** runs beside the GCS on the head. Every period it reads the GCS's **pending demands** (work no node",
      "can take now), the queued lease requests and each node's idle time. It bin-packs the demands onto the shapes of its",
      "**worker groups** (within `minReplicas`..`maxReplicas`) and asks its node provider for that many nodes; a node joins when",
      "its raylet registers. A node idle past `idleTimeoutSeconds` is **drained**: the GCS asks its raylet, which accepts only",
      "if it holds no lease, bundle or primary copy, and the node is then removed. In the simulator, machines take a seeded",
      "1 to 5 virtual seconds to start.",
    ].join("\n"),
    program: "examples/learn/autoscaling.ts",
    flags: ["--node", "head:CPU=0", "--autoscale", JSON.stringify({
      enableInTreeAutoscaling: true,
      autoscalerOptions: { idleTimeoutSeconds: 1, periodSeconds: 0.5 },
      workerGroupSpecs: [{ groupName: "workers", replicas: 0, minReplicas: 0, maxReplicas: 3, resources: { CPU: 2 } }],
    })],
    predict: "The head has no CPU; six 300 ms tasks need one CPU each; a worker node has two. How many nodes does the autoscaler launch, on how many of them do the tasks run, and how many nodes are left when the program ends?",
    explain: [
      "The six tasks wait as demands (`task.infeasible`), and the autoscaler packs them onto three 2-CPU nodes at once",
      "(`autoscaler.launch`). The machines come up one by one; the first to join takes every queued task (the raylets spill",
      "queued requests to a node that can run them now), and finishes them two at a time before the others have anything",
      "to do. Each node then idles past the timeout, is drained (`autoscaler.drain`, `node.drain` accepted) and terminated:",
      "the cluster is back to the head alone, as Ray's autoscaler would leave it.",
    ].join("\n"),
    bug: "drain-busy-node",
    breakNote: "With `drain-busy-node` the autoscaler drains nodes before their idle timeout and raylets accept a drain while they hold leases: the `autoscaling` checker reports every node removed while it still held a lease (its tasks' workers were cut off under them).",
  },
];
