// `tsray job submit|status|logs|stop|list|delete`, as Ray's `ray job …`: a client of the Jobs API
// on the head's dashboard port (src/runtime/head/dashboard.ts).

import { parseArgs } from "node:util";
import type { JobDetails } from "../runtime/head/jobs.ts";
import { CliError, HttpStatusError, dashboardClient, type DashboardClient } from "../runtime/head/client.ts";

const USAGE = `usage: tsray job submit [--address URL] [--no-wait] [--submission-id ID] [--runtime-env-json JSON] [--metadata-json JSON] -- COMMAND…
       tsray job status|logs|stop|delete [--address URL] ID      (logs: [--follow])
       tsray job list [--address URL] [--json]

A job runs COMMAND (a shell command) on the head as a driver of the cluster: TSRAY_ADDRESS and
TSRAY_TOKEN are set for it, so \`tsray run FILE\` or a program calling ray.init() joins this cluster.
--address is the dashboard (http://HOST:8265); by default $TSRAY_DASHBOARD_ADDRESS, else the
dashboard of this machine's cluster. \`submit\` waits for the job and prints its logs unless
--no-wait; it exits 0 only if the job SUCCEEDED. \`status\` exits 1 for an unknown job. \`stop\`
returns once the driver has exited (SIGTERM, then SIGKILL after 3 s).`;

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "STOPPED"]);
const POLL_MS = 300;

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) { console.error(`tsray job: give a subcommand\n${USAGE}`); return 2; }
  if (sub === "--help" || sub === "-h") { console.log(USAGE); return 0; }
  const dash = rest.indexOf("--");
  const flags = dash >= 0 ? rest.slice(0, dash) : rest;
  const command = dash >= 0 ? rest.slice(dash + 1) : [];
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: flags, allowPositionals: true, strict: true,
      options: {
        address: { type: "string" }, "no-wait": { type: "boolean" }, "submission-id": { type: "string" }, "runtime-env-json": { type: "string" },
        "metadata-json": { type: "string" }, follow: { type: "boolean", short: "f" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`tsray job: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.log(USAGE); return 0; }
  const allowed: Record<string, string[]> = {
    submit: ["address", "no-wait", "submission-id", "runtime-env-json", "metadata-json"], status: ["address"], logs: ["address", "follow"],
    stop: ["address"], delete: ["address"], list: ["address", "json"],
  };
  if (!allowed[sub]) { console.error(`tsray job: unknown subcommand ${JSON.stringify(sub)} (submit, status, logs, stop, list, delete)\n${USAGE}`); return 2; }
  const stray = Object.keys(values).filter((k) => values[k] !== undefined && !allowed[sub].includes(k));
  if (stray.length > 0) { console.error(`tsray job ${sub}: --${stray.join(", --")} does not apply to ${sub}`); return 2; }
  const wantsId = sub !== "submit" && sub !== "list";
  if (wantsId && positionals.length !== 1) { console.error(`tsray job ${sub}: expected one job ID\n${USAGE}`); return 2; }
  if (!wantsId && positionals.length > 0) { console.error(`tsray job ${sub}: unexpected ${JSON.stringify(positionals[0])}${sub === "submit" ? " (put the command after --)" : ""}`); return 2; }
  try {
    const client = await dashboardClient(values.address as string | undefined);
    const id = positionals[0];
    switch (sub) {
      case "submit": return await submit(client, values, command);
      case "status": {
        const j = await client.request<JobDetails>("GET", `/api/jobs/${encodeURIComponent(id)}`);
        console.log(`Status for job '${id}': ${j.status}`);
        console.log(`Status message: ${j.message}`);
        return 0;
      }
      case "logs":
        if (values.follow) return (await follow(client, id), 0);
        process.stdout.write((await client.request<{ logs: string }>("GET", `/api/jobs/${encodeURIComponent(id)}/logs`)).logs);
        return 0;
      case "stop": {
        const { stopped } = await client.request<{ stopped: boolean }>("POST", `/api/jobs/${encodeURIComponent(id)}/stop`);
        console.log(stopped ? `Job '${id}' was stopped` : `Job '${id}' had already finished`);
        return 0;
      }
      case "delete":
        await client.request("DELETE", `/api/jobs/${encodeURIComponent(id)}`);
        console.log(`Job '${id}' deleted`);
        return 0;
      default: {
        const jobs = await client.request<JobDetails[]>("GET", "/api/jobs/");
        if (values.json) { console.log(JSON.stringify(jobs)); return 0; }
        if (jobs.length === 0) { console.log("no jobs"); return 0; }
        for (const j of jobs) console.log(`${j.submission_id}  ${j.status.padEnd(9)}  ${new Date(j.start_time).toISOString()}  ${j.entrypoint}`);
        return 0;
      }
    }
  } catch (e) {
    if (e instanceof CliError) {
      console.error(`tsray job ${sub}: ${e.message}`);
      return e instanceof HttpStatusError && e.status === 400 ? 2 : e.code;
    }
    throw e;
  }
}

function jsonFlag(v: string | boolean | undefined, name: string): unknown {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(String(v));
  } catch (e) {
    throw new CliError(`--${name} is not JSON: ${(e as Error).message}`, 2);
  }
}

async function submit(client: DashboardClient, values: Record<string, string | boolean | undefined>, command: string[]): Promise<number> {
  if (command.length === 0) throw new CliError("give the command to run after --, e.g. tsray job submit -- tsray run examples/square.ts", 2);
  const body = {
    entrypoint: command.join(" "),
    ...(values["submission-id"] !== undefined ? { submission_id: values["submission-id"] } : {}),
    ...(values["runtime-env-json"] !== undefined ? { runtime_env: jsonFlag(values["runtime-env-json"], "runtime-env-json") } : {}),
    ...(values["metadata-json"] !== undefined ? { metadata: jsonFlag(values["metadata-json"], "metadata-json") } : {}),
  };
  const { submission_id: id } = await client.request<{ submission_id: string }>("POST", "/api/jobs/", body);
  console.log(`Job '${id}' submitted successfully`);
  if (values["no-wait"]) {
    console.log(`  status: tsray job status ${id}\n  logs:   tsray job logs --follow ${id}\n  stop:   tsray job stop ${id}`);
    return 0;
  }
  const status = await follow(client, id);
  console.log(`Job '${id}' ${status}`);
  return status === "SUCCEEDED" ? 0 : 1;
}

/** Prints the job's log as it grows, until the job has finished; returns its final status. */
async function follow(client: DashboardClient, id: string): Promise<string> {
  const path = `/api/jobs/${encodeURIComponent(id)}`;
  let printed = 0;
  for (;;) {
    const { status } = await client.request<JobDetails>("GET", path);
    const { logs } = await client.request<{ logs: string }>("GET", `${path}/logs`);
    if (logs.length > printed) { process.stdout.write(logs.slice(printed)); printed = logs.length; }
    if (TERMINAL.has(status)) return status;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
