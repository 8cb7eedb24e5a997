// Ray's job submission on the head: a job is an entrypoint shell command run as a driver process
// on the head, with TSRAY_ADDRESS and TSRAY_TOKEN set so that `ray.init()` (and `tsray run`) in
// it connect to this cluster. Its output goes to a log file; its status goes PENDING → RUNNING →
// SUCCEEDED | FAILED | STOPPED. Records are kept in the GCS's storage (as Ray keeps them in the
// GCS's KV), each change durable before it is acknowledged, so they survive a GCS restart. The
// records use Ray's field names and statuses (JobDetails), which KubeRay and Ray's clients read.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { chartStep, jobChart, type JobEvent } from "../../core/lifecycle/index.ts";
import type { TraceBody } from "../../../spec/trace.ts";
import { HttpError } from "./http.ts";

export const JOB_STATUSES = ["PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
const TERMINAL: ReadonlySet<JobStatus> = new Set(["STOPPED", "SUCCEEDED", "FAILED"]);
export const isTerminal = (s: JobStatus): boolean => TERMINAL.has(s);

/** Ray's JobDetails, as GET /api/jobs/{id} returns it. */
export interface JobDetails {
  readonly type: "SUBMISSION";
  readonly job_id: string;
  readonly submission_id: string;
  readonly driver_info: null;
  status: JobStatus;
  readonly entrypoint: string;
  message: string;
  error_type: string | null;
  start_time: number;
  end_time: number | null;
  readonly metadata: Record<string, string>;
  readonly runtime_env: RuntimeEnv;
  driver_agent_http_address: string | null;
  driver_node_id: string | null;
  driver_exit_code: number | null;
}

/** The runtime_env fields tsray applies; any other is refused. */
export interface RuntimeEnv {
  readonly env_vars?: Record<string, string>;
  /** A directory on the head: the driver's working directory. */
  readonly working_dir?: string;
}

/** Where job records are kept: the GCS's storage. */
export interface JobKv {
  load(): [string, unknown][];
  put(id: string, record: JobDetails | undefined): Promise<void>;
}

export interface JobManagerOptions {
  readonly kv: JobKv;
  /** Where drivers' logs go (`job-driver-<id>.log`, Ray's name). */
  readonly logDir: string;
  /** host:port of the GCS and the token, handed to drivers. */
  readonly address: string;
  readonly token: string;
  /** The head's node id and dashboard address (for driver_node_id, driver_agent_http_address). */
  readonly nodeId: string;
  readonly dashboardAddress: () => string;
  readonly log: (line: string) => void;
  /** Where each status change is traced (`job.state`), beside the GCS's events. */
  readonly trace?: (body: TraceBody) => void;
}

/** How long a stopped driver gets between SIGTERM and SIGKILL (Ray's default: 3 s). */
const STOP_GRACE_MS = 3_000;
const KEY_PREFIX = "job:";
/** The end of the log quoted in a failed job's message. */
const MESSAGE_LOG_CHARS = 2_000;

export class JobManager {
  private readonly jobs = new Map<string, JobDetails>();
  private readonly running = new Map<string, { child: ChildProcess; stopping: boolean; exited: Promise<void> }>();
  private closed = false;

  private constructor(private readonly o: JobManagerOptions) {}

  /**
   * Loads the records. A job that was not finished when the previous GCS process ended lost its
   * supervisor: its driver (if still alive) is killed and the job FAILED, as Ray fails a job whose
   * supervisor actor died.
   */
  static async start(o: JobManagerOptions): Promise<JobManager> {
    const m = new JobManager(o);
    fs.mkdirSync(o.logDir, { recursive: true });
    for (const [key, value] of o.kv.load()) {
      if (!key.startsWith(KEY_PREFIX)) continue;
      const rec = value as JobDetails & { pid?: number };
      m.jobs.set(rec.submission_id, rec);
      if (isTerminal(rec.status)) continue;
      // Only if that pid is still this job's driver (not a pid reused after a reboot).
      if (rec.pid !== undefined && isDriverOf(rec.pid, rec.submission_id)) { try { process.kill(-rec.pid, "SIGKILL"); } catch { /* already gone */ } }
      await m.finish(rec, "FAILED", "the head's GCS restarted while the job ran: its driver was lost and has been stopped", "JOB_SUPERVISOR_ACTOR_DIED", null);
    }
    return m;
  }

  list(): JobDetails[] {
    return [...this.jobs.values()].map(publicRecord);
  }

  get(id: string): JobDetails | undefined {
    const j = this.jobs.get(id);
    return j && publicRecord(j);
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const j of this.jobs.values()) out[j.status] = (out[j.status] ?? 0) + 1;
    return out;
  }

  logFile(id: string): string {
    return path.join(this.o.logDir, `job-driver-${id}.log`);
  }

  /** The driver's output so far ("" before it started). */
  logs(id: string): string {
    this.known(id);
    try {
      return fs.readFileSync(this.logFile(id), "utf8");
    } catch {
      return "";
    }
  }

  /** POST /api/jobs/: validates, stores the PENDING record durably, then starts the driver. */
  async submit(body: unknown): Promise<{ job_id: string; submission_id: string }> {
    if (this.closed) throw new HttpError(503, "the head is shutting down");
    const req = parseSubmit(body);
    const id = req.submission_id ?? `raysubmit_${randomId()}`;
    // KubeRay recognises a duplicate by this sentence, and by the status 500 (as Ray answers).
    if (this.jobs.has(id)) throw new HttpError(500, `Job with submission_id ${id} already exists. Please use a different submission_id.`);
    const rec: JobDetails = {
      type: "SUBMISSION", job_id: id, submission_id: id, driver_info: null, status: "PENDING", entrypoint: req.entrypoint,
      message: "Job has not started yet.", error_type: null, start_time: Date.now(), end_time: null,
      metadata: req.metadata, runtime_env: req.runtime_env, driver_agent_http_address: null, driver_node_id: null, driver_exit_code: null,
    };
    this.jobs.set(id, rec);
    try {
      await this.save(rec);
    } catch (e) {
      this.jobs.delete(id);
      throw new HttpError(500, `could not store the job: ${(e as Error).message}`);
    }
    this.o.trace?.({ kind: "job.state", comp: "head", job: id, state: "PENDING" });
    this.run(rec).catch((e: Error) => this.finish(rec, "FAILED", `the entrypoint could not be started: ${e.message}`, "JOB_ENTRYPOINT_COMMAND_START_ERROR", null));
    return { job_id: id, submission_id: id };
  }

  private async run(rec: JobDetails): Promise<void> {
    const out = fs.openSync(this.logFile(rec.submission_id), "a");
    let child: ChildProcess;
    try {
      child = spawn("/bin/sh", ["-c", rec.entrypoint], {
        cwd: rec.runtime_env.working_dir, detached: true, stdio: ["ignore", out, out],
        env: { ...process.env, ...rec.runtime_env.env_vars, TSRAY_ADDRESS: this.o.address, TSRAY_TOKEN: this.o.token, TSRAY_JOB_SUBMISSION_ID: rec.submission_id },
      });
    } finally {
      fs.closeSync(out);
    }
    let exited!: () => void;
    const entry = { child, stopping: false, exited: new Promise<void>((r) => { exited = r; }) };
    this.running.set(rec.submission_id, entry);
    child.once("error", (e) => {
      this.running.delete(rec.submission_id);
      void this.finish(rec, "FAILED", `the entrypoint could not be started: ${e.message}`, "JOB_ENTRYPOINT_COMMAND_START_ERROR", null).finally(exited);
    });
    child.once("spawn", () => {
      if (!this.move(rec, "RUNNING")) return;
      Object.assign(rec, { message: "Job is currently running.", driver_node_id: this.o.nodeId, driver_agent_http_address: `http://${this.o.dashboardAddress()}` });
      (rec as { pid?: number }).pid = child.pid;
      this.save(rec).catch((e: Error) => this.o.log(`tsray jobs: could not store job ${rec.submission_id}: ${e.message}`));
    });
    child.once("exit", (code, signal) => {
      this.running.delete(rec.submission_id);
      const done = entry.stopping
        ? this.finish(rec, "STOPPED", "Job was intentionally stopped.", null, code)
        : this.closed
          ? this.finish(rec, "FAILED", "the head was shut down while the job ran", "JOB_SUPERVISOR_ACTOR_DIED", code)
        : code === 0
          ? this.finish(rec, "SUCCEEDED", "Job finished successfully.", null, 0)
          : this.finish(rec, "FAILED", `Job entrypoint command failed with ${signal ? `signal ${signal}` : `exit code ${code}`}; last output:\n${this.logs(rec.submission_id).slice(-MESSAGE_LOG_CHARS)}`, "JOB_ENTRYPOINT_COMMAND_ERROR", code);
      void done.finally(exited);
    });
  }

  /**
   * Moves a job to `to` along its chart (src/core/lifecycle/job.ts) and traces it. A change the
   * chart does not allow (a second end, e.g. an 'error' and then an 'exit' of the same driver)
   * is refused and logged: a finished job's record never changes.
   */
  private move(rec: JobDetails, to: Exclude<JobStatus, "PENDING">): boolean {
    const event: JobEvent = { type: to === "RUNNING" ? "STARTED" : to };
    try {
      chartStep(jobChart, rec.status, event);
    } catch (e) {
      this.o.log(`tsray jobs: job ${rec.submission_id} stays ${rec.status}: ${(e as Error).message}`);
      return false;
    }
    rec.status = to;
    this.o.trace?.({ kind: "job.state", comp: "head", job: rec.submission_id, state: to });
    return true;
  }

  private async finish(rec: JobDetails, status: Exclude<JobStatus, "PENDING" | "RUNNING">, message: string, errorType: string | null, exitCode: number | null): Promise<void> {
    if (!this.move(rec, status)) return;
    Object.assign(rec, { message, error_type: errorType, end_time: Date.now(), driver_exit_code: exitCode });
    delete (rec as { pid?: number }).pid;
    try {
      await this.save(rec);
    } catch (e) {
      this.o.log(`tsray jobs: could not store job ${rec.submission_id}: ${(e as Error).message}`);
    }
  }

  /** POST /api/jobs/{id}/stop: SIGTERM to the driver's process group, SIGKILL after a grace. False if it had already ended. */
  async stop(id: string): Promise<boolean> {
    const rec = this.known(id);
    if (isTerminal(rec.status)) return false;
    const r = this.running.get(id);
    if (!r) {
      // PENDING without a process: nothing ran yet.
      await this.finish(rec, "STOPPED", "Job was intentionally stopped.", null, null);
      return true;
    }
    r.stopping = true;
    signalGroup(r.child, "SIGTERM");
    const kill = setTimeout(() => signalGroup(r.child, "SIGKILL"), STOP_GRACE_MS);
    await r.exited;
    clearTimeout(kill);
    return true;
  }

  /** DELETE /api/jobs/{id}: only a finished job (as Ray); its record and log go. */
  async delete(id: string): Promise<boolean> {
    const rec = this.known(id);
    if (!isTerminal(rec.status)) throw new HttpError(400, `Attempted to delete job with id '${id}', but it is in a non-terminal state ${rec.status}: stop it first.`);
    await this.o.kv.put(KEY_PREFIX + id, undefined);
    this.jobs.delete(id);
    fs.rmSync(this.logFile(id), { force: true });
    return true;
  }

  /**
   * Follows a job's log: `onText` gets what is there, then what is appended, and `onEnd` once
   * the job has finished and everything was sent. Returns a function that stops following.
   */
  tail(id: string, onText: (s: string) => void, onEnd: () => void): () => void {
    this.known(id);
    let offset = 0;
    let stopped = false;
    const poll = () => {
      if (stopped) return;
      const finished = !this.jobs.has(id) || isTerminal(this.jobs.get(id)!.status);
      let chunk = "";
      try {
        const fd = fs.openSync(this.logFile(id), "r");
        try {
          const size = fs.fstatSync(fd).size;
          if (size > offset) {
            const buf = Buffer.alloc(size - offset);
            fs.readSync(fd, buf, 0, buf.length, offset);
            offset = size;
            chunk = buf.toString("utf8");
          }
        } finally {
          fs.closeSync(fd);
        }
      } catch { /* no log yet */ }
      if (chunk) onText(chunk);
      if (finished) { stopped = true; onEnd(); return; }
      timer = setTimeout(poll, 200);
    };
    let timer = setTimeout(poll, 0);
    return () => { stopped = true; clearTimeout(timer); };
  }

  /** Stops the drivers still running (the head is going down); their jobs are FAILED. */
  async close(): Promise<void> {
    this.closed = true;
    const ending = [...this.running.entries()].map(async ([, r]) => {
      signalGroup(r.child, "SIGTERM");
      const kill = setTimeout(() => signalGroup(r.child, "SIGKILL"), STOP_GRACE_MS);
      await r.exited;
      clearTimeout(kill);
    });
    await Promise.all(ending);
  }

  private known(id: string): JobDetails {
    const rec = this.jobs.get(id);
    if (!rec) throw new HttpError(404, `Job ${id} does not exist`);
    return rec;
  }

  private save(rec: JobDetails): Promise<void> {
    return this.o.kv.put(KEY_PREFIX + rec.submission_id, { ...rec });
  }
}

function publicRecord(j: JobDetails): JobDetails {
  const { pid: _, ...rest } = j as JobDetails & { pid?: number };
  return { ...rest, metadata: { ...j.metadata }, runtime_env: { ...j.runtime_env } };
}

/** Whether `pid` runs with this job's TSRAY_JOB_SUBMISSION_ID (read from /proc; false where there is none). */
function isDriverOf(pid: number, id: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`TSRAY_JOB_SUBMISSION_ID=${id}`);
  } catch {
    return false;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* already gone */
  }
}

function randomId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return [...randomBytes(16)].map((b) => alphabet[b % alphabet.length]).join("");
}

interface SubmitRequest {
  readonly entrypoint: string;
  readonly submission_id?: string;
  readonly metadata: Record<string, string>;
  readonly runtime_env: RuntimeEnv;
}

const bad = (msg: string) => new HttpError(400, msg);

/** Ray's JobSubmitRequest, checked field by field: a wrong type or a field tsray cannot honour is a 400 naming it. */
export function parseSubmit(body: unknown): SubmitRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("the request body must be a JSON object");
  const b = body as Record<string, unknown>;
  const known = new Set(["entrypoint", "submission_id", "job_id", "runtime_env", "metadata", "entrypoint_num_cpus", "entrypoint_num_gpus", "entrypoint_memory", "entrypoint_resources"]);
  for (const k of Object.keys(b)) if (!known.has(k)) throw bad(`unknown field ${JSON.stringify(k)} (fields: ${[...known].join(", ")})`);
  if (typeof b.entrypoint !== "string" || b.entrypoint.trim() === "") throw bad("entrypoint must be a non-empty string (the shell command to run)");
  const ids = [b.submission_id, b.job_id].filter((v) => v !== undefined && v !== null);
  for (const v of ids) if (typeof v !== "string" || !/^[\w.-]{1,128}$/.test(v)) throw bad(`submission_id must be 1-128 letters, digits, '_', '.' or '-', got ${JSON.stringify(v)}`);
  if (ids.length === 2 && ids[0] !== ids[1]) throw bad("submission_id and job_id (deprecated) differ: give one");
  const metadata = (b.metadata ?? {}) as Record<string, unknown>;
  if (typeof metadata !== "object" || Array.isArray(metadata) || Object.values(metadata).some((v) => typeof v !== "string")) throw bad("metadata must be an object of strings");
  for (const k of ["entrypoint_num_cpus", "entrypoint_num_gpus", "entrypoint_memory"]) {
    const v = b[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !(v >= 0)) throw bad(`${k} must be a number >= 0`);
    if (v > 0) throw bad(`${k} is not supported: tsray runs a job's driver on the head without reserving resources for it (leave it 0 or unset)`);
  }
  const er = b.entrypoint_resources;
  if (er !== undefined && er !== null) {
    if (typeof er !== "object" || Array.isArray(er)) throw bad("entrypoint_resources must be an object of numbers");
    if (Object.keys(er).length > 0) throw bad("entrypoint_resources is not supported: tsray runs a job's driver on the head without reserving resources for it");
  }
  return { entrypoint: b.entrypoint, submission_id: ids[0] as string | undefined, metadata: metadata as Record<string, string>, runtime_env: parseRuntimeEnv(b.runtime_env) };
}

function parseRuntimeEnv(v: unknown): RuntimeEnv {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw bad("runtime_env must be an object");
  const out: { env_vars?: Record<string, string>; working_dir?: string } = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "env_vars") {
      if (typeof x !== "object" || x === null || Array.isArray(x) || Object.values(x).some((s) => typeof s !== "string")) throw bad("runtime_env.env_vars must be an object of strings");
      out.env_vars = x as Record<string, string>;
    } else if (k === "working_dir") {
      if (typeof x !== "string" || !path.isAbsolute(x) || !fs.statSync(x, { throwIfNoEntry: false })?.isDirectory()) {
        throw bad(`runtime_env.working_dir must be the absolute path of a directory on the head (tsray does not upload packages), got ${JSON.stringify(x)}`);
      }
      out.working_dir = x;
    } else {
      throw bad(`runtime_env.${k} is not supported by tsray (supported: env_vars, working_dir)`);
    }
  }
  return out;
}
