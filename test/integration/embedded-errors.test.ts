// Errors on the embedded cluster: a task that throws gives a TaskError carrying the remote
// message and stack; a worker thread that dies (process.exit, an uncaught error, a thread that
// is killed) gives WorkerCrashedError once the task's retries are spent, and the cluster keeps
// working afterwards.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as ray from "../../src/index.ts";

describe("embedded cluster: errors", () => {
  before(async () => { await ray.init({ numCpus: 2, config: { logWorkerCrashes: false } }); });
  after(async () => { await ray.shutdown(); });

  it("a task that throws: TaskError with the remote message and stack", async () => {
    const boom = ray.remote(function explode(x: number) {
      function deeper() { throw new RangeError(`bad input ${x}`); }
      deeper();
    });
    await assert.rejects(ray.get(boom.remote(7)), (e: any) => {
      assert.equal(e.name, "TaskError");
      assert.ok(e instanceof ray.TaskError);
      assert.match(e.message, /explode: bad input 7/);
      assert.equal(e.remoteName, "RangeError");
      assert.match(e.remoteStack ?? "", /deeper/);
      assert.match(e.stack ?? "", /--- remote stack ---/);
      return true;
    });
  });

  it("an actor method that throws fails that call only", async () => {
    const A = ray.remote(class Picky { n = 0; take(x: number) { if (x < 0) throw new Error("negative"); return (this.n += x); } });
    const a = A.remote();
    assert.equal(await ray.get(a.take.remote(2)), 2);
    await assert.rejects(ray.get(a.take.remote(-1)), (e: Error) => e instanceof ray.TaskError && /negative/.test(e.message));
    assert.equal(await ray.get(a.take.remote(3)), 5);
  });

  it("a dependency's error propagates to the task that needs it", async () => {
    const fail = ray.remote(() => { throw new Error("upstream"); });
    const id = ray.remote((x: unknown) => x);
    await assert.rejects(ray.get(id.remote(fail.remote())), /upstream/);
  });

  it("process.exit inside a task: WorkerCrashedError after the retries, and the cluster goes on", async () => {
    const die = ray.remote(() => { process.exit(3); });
    await assert.rejects(ray.get(die.options({ maxRetries: 1 }).remote()), (e: Error) => {
      assert.ok(e instanceof ray.WorkerCrashedError, `${e.name}: ${e.message}`);
      return true;
    });
    const crashes = ray.cluster()!.crashes;
    assert.ok(crashes.length >= 2, `one crash per attempt, got ${crashes.length}`);
    assert.match(crashes[0].reason, /exit code 3/);
    const ok = ray.remote((x: number) => x + 1);
    assert.deepEqual(await ray.get([1, 2, 3].map((i) => ok.remote(i))), [2, 3, 4]);
  });

  it("an uncaught error thrown later in a worker thread crashes it: WorkerCrashedError", async () => {
    const late = ray.remote(() => new Promise(() => { setTimeout(() => { throw new Error("thrown from a timer"); }, 1); }));
    await assert.rejects(ray.get(late.options({ maxRetries: 0 }).remote()), (e: Error) => e instanceof ray.WorkerCrashedError);
    assert.ok(ray.cluster()!.crashes.some((c) => /thrown from a timer/.test(c.reason)));
  });

  it("a retried task succeeds when a later attempt survives", async () => {
    // Attempts count themselves on an actor (it outlives the crashed worker): the first one dies.
    const Tally = ray.remote(class Tally { n = 0; next() { return ++this.n; } });
    const tally = Tally.remote();
    const flaky = ray.remote(async (t: any) => {
      const attempt = await ray.get(t.next.remote());
      if (attempt === 1) process.exit(1);
      return `survived attempt ${attempt}`;
    });
    assert.equal(await ray.get(flaky.options({ maxRetries: 2 }).remote(tally)), "survived attempt 2");
  });

  it("an actor whose thread dies: its calls fail with ActorDiedError", async () => {
    const A = ray.remote(class Fragile { crash() { process.exit(9); } ping() { return "pong"; } });
    const a = A.remote();
    assert.equal(await ray.get(a.ping.remote()), "pong");
    await assert.rejects(ray.get(a.crash.remote()), (e: Error) => e.name === "ActorDiedError" || e.name === "WorkerCrashedError");
    await assert.rejects(ray.get(a.ping.remote(), { timeoutMs: 5_000 }), (e: Error) => e.name === "ActorDiedError");
  });

  it("an actor with restarts left comes back on a fresh thread after its thread dies", async () => {
    const A = ray.remote(class Phoenix { n = 0; inc() { return ++this.n; } crash() { process.exit(1); } });
    const a = A.options({ maxRestarts: 1 }).remote();
    assert.deepEqual(await ray.get([a.inc.remote(), a.inc.remote()]), [1, 2]);
    await assert.rejects(ray.get(a.crash.remote()), (e: Error) => e.name === "ActorDiedError");
    assert.equal(await ray.get(a.inc.remote(), { timeoutMs: 5_000 }), 1, "a new instance: its state starts over");
  });

  it("a value that cannot be stored is the task's error, with a clear message", async () => {
    const bad = ray.remote(() => ({ f: () => 1 }));
    await assert.rejects(ray.get(bad.remote()), (e: Error) => e instanceof ray.TaskError && /cannot be stored/.test(e.message));
  });
});
