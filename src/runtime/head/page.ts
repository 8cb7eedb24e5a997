// The dashboard's web page: one HTML document whose script reads the JSON APIs of the same
// server (with the token it was opened with) and redraws every 2 s: cluster health, nodes with
// resource, memory and store usage, jobs with their logs, actors, tasks (a summary and the latest
// 50), and the task timeline.

export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsray dashboard</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{margin:0 0 .3em}h2{margin:1.2em 0 .4em;font-size:1.1em}
table{border-collapse:collapse}td,th{padding:.25em .7em;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}
.ok{color:#080}.bad{color:#b00}pre{background:#f6f6f6;padding:.5em;max-height:12em;overflow:auto;margin:.2em 0}
#timeline svg{border:1px solid #ccc;background:#fcfcfc}.muted{color:#777}
</style></head>
<body>
<h1>tsray cluster</h1>
<p id="health" class="muted">loading…</p>
<h2>Nodes</h2><table id="nodes"><thead><tr><th>node</th><th>state</th><th>CPU in use</th><th>resources</th><th>memory free</th><th>object store</th></tr></thead><tbody></tbody></table>
<h2>Jobs</h2><table id="jobs"><thead><tr><th>submission id</th><th>status</th><th>entrypoint</th><th>logs</th></tr></thead><tbody></tbody></table>
<h2>Actors</h2><table id="actors"><thead><tr><th>actor</th><th>class</th><th>state</th><th>node</th></tr></thead><tbody></tbody></table>
<h2>Tasks</h2><p id="tasks-summary" class="muted"></p>
<table id="tasks"><thead><tr><th>task</th><th>function</th><th>state</th><th>node</th><th>worker</th><th>attempt</th><th>ms</th></tr></thead><tbody></tbody></table>
<h2>Timeline</h2><div id="timeline" class="muted">no tasks yet</div>
<script>
const token = new URLSearchParams(location.search).get("token") || "";
const api = (p) => fetch(p, { headers: { authorization: "Bearer " + token } }).then((r) => r.ok ? r.json() : Promise.reject(new Error(p + ": " + r.status)));
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const mb = (b) => b === undefined ? "?" : (b / 1048576).toFixed(1) + " MiB";
const rows = (id, list) => { document.querySelector("#" + id + " tbody").innerHTML = list.join(""); };

async function refresh() {
  const health = await fetch("/api/gcs_healthz").then((r) => r.text()).catch((e) => String(e));
  const h = document.getElementById("health");
  h.textContent = health.trim() === "success" ? "GCS healthy" : "GCS NOT healthy: " + health;
  h.className = health.trim() === "success" ? "ok" : "bad";
  const [nodes, jobs, actors, tasks, latest] = await Promise.all([api("/api/v0/nodes?limit=1000"), api("/api/jobs/"), api("/api/v0/actors?limit=1000"), api("/api/v0/tasks/summarize"), api("/api/v0/tasks?limit=50")]);
  rows("nodes", nodes.result.map((n) => "<tr data-node=\\"" + esc(n.node_id) + "\\"><td>" + esc(n.node_id) + (n.is_head_node ? " (head)" : "") + "</td><td class=\\"" + (n.state === "ALIVE" ? "ok" : "bad") + "\\">" + n.state +
    "</td><td>" + ((n.resources_total.CPU ?? 0) - (n.resources_available.CPU ?? 0)) + " / " + (n.resources_total.CPU ?? 0) + "</td><td>" + esc(JSON.stringify(n.resources_total)) +
    "</td><td>" + (n.memory_total ? mb(n.memory_available) + " of " + mb(n.memory_total) : "?") + "</td><td>" + (n.object_store_capacity ? mb(n.object_store_used) + " of " + mb(n.object_store_capacity) + ", " + n.num_objects + " objects" : "?") + "</td></tr>"));
  const logs = await Promise.all(jobs.map((j) => api("/api/jobs/" + encodeURIComponent(j.submission_id) + "/logs").then((l) => l.logs, () => "")));
  rows("jobs", jobs.map((j, i) => "<tr data-job=\\"" + esc(j.submission_id) + "\\" data-status=\\"" + j.status + "\\"><td>" + esc(j.submission_id) + "</td><td>" + j.status + "</td><td><code>" + esc(j.entrypoint) + "</code></td><td><pre class=\\"logs\\">" + esc(logs[i]) + "</pre></td></tr>"));
  rows("actors", actors.result.map((a) => "<tr><td>" + esc(a.actor_id) + "</td><td>" + esc(a.class_name) + "</td><td>" + esc(a.state) + "</td><td>" + esc(a.node_id) + "</td></tr>"));
  document.getElementById("tasks-summary").textContent = tasks.total + " task attempts: " +
    Object.entries(tasks.summary).map(([name, states]) => name + " " + Object.entries(states).map(([s, n]) => n + " " + s).join(", ")).join("; ");
  rows("tasks", latest.result.map((t) => "<tr data-task=\\"" + esc(t.task_id) + "\\"><td>" + esc(t.task_id) + "</td><td>" + esc(t.name) + "</td><td>" + esc(t.state) + "</td><td>" + esc(t.node_id) + "</td><td>" + esc(t.worker_id) +
    "</td><td>" + t.attempt_number + "</td><td>" + (t.end_time_ms ? (t.end_time_ms - t.start_time_ms).toFixed(1) : "") + "</td></tr>"));
  drawTimeline(await api("/api/v0/timeline"));
}

function drawTimeline(trace) {
  const slices = trace.traceEvents.filter((e) => e.ph === "X");
  const box = document.getElementById("timeline");
  if (slices.length === 0) { box.textContent = "no tasks yet"; return; }
  const names = new Map(trace.traceEvents.filter((e) => e.ph === "M").map((e) => [e.name + e.pid + "/" + e.tid, e.args.name]));
  const lanes = [...new Set(slices.map((s) => s.pid + "/" + s.tid))].sort();
  const t0 = Math.min(...slices.map((s) => s.ts)), t1 = Math.max(...slices.map((s) => s.ts + s.dur));
  const W = 900, L = 220, H = 18, span = Math.max(1, t1 - t0);
  let svg = '<svg width="' + (W + L) + '" height="' + (lanes.length * (H + 4) + 24) + '">';
  lanes.forEach((lane, i) => {
    const [pid] = lane.split("/");
    svg += '<text x="4" y="' + (i * (H + 4) + 13) + '" font-size="11">' + esc(names.get("process_name" + pid + "/0") + " · " + names.get("thread_name" + lane)) + "</text>";
  });
  for (const s of slices) {
    const y = lanes.indexOf(s.pid + "/" + s.tid) * (H + 4);
    const x = L + ((s.ts - t0) / span) * W, w = Math.max(1, (s.dur / span) * W);
    svg += '<rect class="slice" data-task="' + esc(s.args.task_id) + '" x="' + x.toFixed(1) + '" y="' + y + '" width="' + w.toFixed(1) + '" height="' + H + '" fill="' + (s.args.ok === false ? "#d55" : "#58c") + '"><title>' +
      esc(s.name + " (" + s.args.task_id + ") " + (s.dur / 1000).toFixed(2) + " ms") + "</title></rect>";
  }
  svg += '<text x="' + L + '" y="' + (lanes.length * (H + 4) + 16) + '" font-size="11">' + ((t1 - t0) / 1000).toFixed(1) + " ms shown</text></svg>";
  box.innerHTML = svg;
  box.className = "";
}

const loop = () => refresh().catch((e) => { const h = document.getElementById("health"); h.textContent = String(e); h.className = "bad"; }).finally(() => setTimeout(loop, 2000));
loop();
</script>
</body></html>
`;
