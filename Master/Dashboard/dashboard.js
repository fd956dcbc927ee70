// The dashboard: plain JavaScript over the master's JSON API (gRPC JSON transcoding), no build step.
// It lists and shows; the few actions (cancel, re-run failed, pause/resume/run a schedule) appear only for a token that may.
"use strict";

const TERMINAL = new Set(["TASK_STATE_SUCCEEDED", "TASK_STATE_FAILED", "TASK_STATE_TIMED_OUT", "TASK_STATE_CANCELED"]);
const STATES = ["", "TASK_STATE_SCHEDULED", "TASK_STATE_WAITING", "TASK_STATE_QUEUED", "TASK_STATE_RUNNING", "TASK_STATE_SUCCEEDED", "TASK_STATE_FAILED", "TASK_STATE_TIMED_OUT", "TASK_STATE_CANCELED"];
const view = document.getElementById("view");
const statusLine = document.getElementById("status");
const tokenForm = document.getElementById("token-form");
let timer = null;
let generation = 0;

const short = (state) => (state || "").replace(/^(TASK_STATE_|WORKER_STATE_)/, "");
const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
// Relative ("3 min ago"), the exact local date and time on hover.
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
function ago(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(seconds, "second");
}
const when = (ts) => {
  if (!ts) return "";
  const date = new Date(ts);
  return `<time datetime="${esc(date.toISOString())}" title="${esc(date.toLocaleString())}">${esc(ago(date))}</time>`;
};
const badge = (state) => `<span class="state state-${short(state)}">${esc(short(state))}</span>`;

async function api(path, body) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem("distexec-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { headers };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    tokenForm.hidden = false;
    throw new Error("this master needs an API token: enter it above");
  }
  if (response.status === 403) {
    let message = "this token may not do that";
    try { message = (await response.json()).message || message; } catch { /* not JSON */ }
    throw new Error(message);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).message || message; } catch { /* not JSON */ }
    throw new Error(message);
  }
  return response.json();
}

tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("distexec-token", document.getElementById("token").value);
  tokenForm.hidden = true;
  me = null;
  route();
});

// Who the token is (name, roles, what it may do): the actions shown are only those it may take.
let me = null;
async function whoami() {
  if (!me) me = await api("/v1/whoami");
  document.getElementById("whoami").textContent = me.name ? `${me.name} (${(me.roles || []).join(", ")})` : "";
  return me;
}

function schedule(fn, ms) {
  const mine = generation;
  timer = setTimeout(() => { if (mine === generation) fn(); }, ms);
}

async function refreshPools() {
  try {
    const { pools = [] } = await api("/v1/pools");
    document.getElementById("pools").innerHTML = pools.map((p) => `
      <div class="pool" data-pool="${esc(p.name)}">
        <div class="name">${esc(p.name)}</div>
        <div class="figures">queued <b class="queued">${esc(p.queuedTasks ?? 0)}</b> ·
          running <b>${esc(p.runningTasks ?? 0)}</b> · workers ${esc(p.workersAlive ?? 0)} (capacity ${esc(p.capacity ?? 0)})</div>
      </div>`).join("") || `<span class="muted">no pools yet</span>`;
  } catch { /* shown by the main view */ }
}

async function showJobs(params) {
  const state = params.get("state") || "";
  const pool = params.get("pool") || "";
  const by = params.get("by") || "";
  const label = params.get("label") || "";
  const page = params.get("page") || "";
  const search = params.get("search") || "";
  const query = new URLSearchParams({ pageSize: "100" });
  if (state) query.set("state", state);
  if (pool) query.set("pool", pool);
  if (by) query.set("submittedBy", by);
  if (page) query.set("pageToken", page);
  if (search) query.set("search", search);
  if (label) {
    const eq = label.indexOf("=");
    if (eq <= 0) throw new Error(`label filter "${label}" is not KEY=VALUE`);
    query.set("labelFilter", label);
  }
  const labels = (j) => Object.entries(j.labels || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `<span class="label">${esc(k)}=${esc(v)}</span>`).join(" ");
  // The filters are drawn once; the refresh redraws only the list, so what someone is typing stays.
  view.innerHTML = `
    <h1>Jobs</h1>
    <div class="filters">
      <form id="find-job"><input id="find-id" placeholder="job id or prefix" aria-label="Go to job" size="18"></form>
      <select id="filter-state" aria-label="State">${STATES.map((s) => `<option value="${s}" ${s === state ? "selected" : ""}>${s ? short(s) : "any state"}</option>`).join("")}</select>
      <input id="filter-pool" placeholder="pool" value="${esc(pool)}" aria-label="Pool">
      <input id="filter-label" placeholder="label key=value" value="${esc(label)}" aria-label="Label">
      <input id="filter-by" placeholder="submitted by" value="${esc(by)}" aria-label="Submitted by">
      <input id="filter-search" placeholder="command or item" value="${esc(search)}" aria-label="Command or item">
    </div>
    <div id="jobs-list"></div>`;
  const apply = () => {
    location.hash = `#/jobs${filtersQuery({
      state: document.getElementById("filter-state").value,
      pool: document.getElementById("filter-pool").value.trim(),
      label: document.getElementById("filter-label").value.trim(),
      by: document.getElementById("filter-by").value.trim(),
      search: document.getElementById("filter-search").value.trim(),
    })}`;
  };
  for (const id of ["filter-state", "filter-pool", "filter-label", "filter-by", "filter-search"]) document.getElementById(id).addEventListener("change", apply);
  document.getElementById("find-job").addEventListener("submit", async (event) => {
    event.preventDefault();
    // Any unique prefix of 4 or more names a job (the master says when it names none or several).
    const wanted = document.getElementById("find-id").value.trim();
    try {
      const { job } = await api(`/v1/jobs/${encodeURIComponent(wanted)}?countsOnly=true`);
      location.hash = `#/jobs/${job.id}`;
    } catch (error) { fail(error); }
  });
  const refresh = async () => {
    const { jobs = [], nextPageToken = "" } = await api(`/v1/jobs?${query}`);
    document.getElementById("jobs-list").innerHTML = `
    <table id="jobs"><thead><tr><th>job</th><th>state</th><th>pool</th><th>tasks</th><th>command</th><th>by</th><th>labels</th><th>created</th><th>finished</th></tr></thead><tbody>
      ${jobs.map((j) => `<tr data-job="${esc(j.id)}"><td><a href="#/jobs/${esc(j.id)}">${esc(j.id)}</a></td><td>${badge(j.state)}</td>
        <td>${esc(j.pool)}</td><td>${esc(j.taskCount)}</td><td class="command"><code>${esc(j.command || "")}</code></td><td class="by">${esc(j.submittedBy || "")}</td><td class="labels">${labels(j)}</td><td>${when(j.createdAt)}</td><td>${when(j.finishedAt)}</td></tr>`).join("")
        || `<tr><td colspan="9" class="muted">no jobs</td></tr>`}
    </tbody></table>
    <div class="pager">${page ? `<a id="newest" href="#/jobs${filtersQuery({ state, pool, by, label, search })}">« newest</a>` : ""}
      ${nextPageToken ? `<a id="older" href="#/jobs${filtersQuery({ state, pool, by, label, search, page: nextPageToken })}">older »</a>` : ""}</div>`;
    // Only the newest page follows new jobs; an older page stays put while it is read.
    if (!page) schedule(() => refresh().catch(fail), 2000);
  };
  await refresh();
}

function filtersQuery(filters) {
  const next = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) next.set(key, value);
  return next.toString() ? `?${next}` : "";
}

async function showJob(id) {
  view.innerHTML = `<h1>Job <span id="job-id">${esc(id)}</span> <span id="job-state"></span></h1>
    <div id="job-meta" class="muted"></div>
    <div id="job-actions"><button id="cancel-job" hidden>Cancel job</button> <button id="rerun-failed" hidden>Re-run failed tasks</button></div>
    <div id="workflow" hidden></div>
    <h2>Tasks</h2>
    <div class="filters"><select id="task-state" aria-label="Tasks in state">${STATES.filter((s) => s !== "TASK_STATE_SCHEDULED" && s !== "TASK_STATE_WAITING").map((s) => `<option value="${s}">${s ? short(s) : "every state"}</option>`).join("")}</select>
      <span id="task-range" class="muted"></span> <a href="#" id="tasks-prev" hidden>« previous</a> <a href="#" id="tasks-next" hidden>next »</a></div>
    <div id="tasks"></div>
    <h2>Output <span class="muted">(stderr in red)</span></h2>
    <div class="filters"><input id="output-item" placeholder="only this item or #index" aria-label="Only the output of this item"></div>
    <pre id="output" aria-live="polite"></pre>`;
  const output = document.getElementById("output");
  let offset = "0";
  let multi = false;
  let names = [];
  let lastCounts = "";
  let lastFull = 0;
  // The task table shows a page of PAGE tasks (by index, optionally of one state), fetched alone.
  const PAGE = 100;
  let taskOffset = 0;
  let taskState = "";
  let itemIndex = new Map();
  let shownTask = null;
  const decoder = new TextDecoder();

  const appendOutput = async () => {
    for (;;) {
      const page = await api(`/v1/jobs/${encodeURIComponent(id)}/output?fromOffset=${offset}&limit=1000`);
      const chunks = page.chunks || [];
      if (multi) await learnNames(chunks.map((c) => c.taskIndex ?? 0));
      for (const chunk of chunks) {
        const bytes = Uint8Array.from(atob(chunk.data || ""), (c) => c.charCodeAt(0));
        const span = document.createElement("span");
        span.className = chunk.stream === "OUTPUT_STREAM_STDERR" ? "stderr" : "stdout";
        span.dataset.task = chunk.taskIndex ?? 0;
        span.hidden = shownTask !== null && shownTask !== (chunk.taskIndex ?? 0);
        const text = decoder.decode(bytes);
        const name = names[chunk.taskIndex ?? 0] || String(chunk.taskIndex ?? 0);
        span.textContent = multi ? text.replace(/^(?=.)/gm, `[${name}] `) : text;
        output.appendChild(span);
      }
      offset = page.nextOffset || offset;
      if (chunks.length < 1000) return;
    }
  };

  // Every 500 ms the job's state and counts (no tasks: small whatever the job's size); the task list only when
  // the counts changed, and for a big job at most every 5 s, so a 1,000-task job is not refetched whole each tick.
  const renderTasks = (job) => {
    for (const t of job.tasks || []) {
      names[t.index ?? 0] = t.spec?.item || String(t.index ?? 0);
      if (t.spec?.item) itemIndex.set(t.spec.item, t.index ?? 0);
    }
    const matching = taskState ? Number((job.counts || {})[{ TASK_STATE_QUEUED: "queued", TASK_STATE_RUNNING: "running", TASK_STATE_SUCCEEDED: "succeeded", TASK_STATE_FAILED: "failed", TASK_STATE_TIMED_OUT: "timedOut", TASK_STATE_CANCELED: "canceled" }[taskState]] || 0) : (job.taskCount || 0);
    document.getElementById("task-range").textContent = matching ? `${taskOffset + 1}–${Math.min(taskOffset + PAGE, matching)} of ${matching}` : "none";
    document.getElementById("tasks-prev").hidden = taskOffset === 0;
    document.getElementById("tasks-next").hidden = taskOffset + PAGE >= matching;
    document.getElementById("tasks").innerHTML = `<table id="task-table"><thead><tr><th>#</th><th>item</th><th>state</th><th>command</th><th>worker</th><th>exit</th><th>attempts</th><th>error</th></tr></thead><tbody>
      ${(job.tasks || []).map((t) => `<tr data-task="${esc(t.index ?? 0)}"><td>${esc(t.index ?? 0)}</td><td>${esc(t.spec?.item || "")}</td><td>${badge(t.state)}</td><td><code>${esc(describe(t.spec))}</code></td>
        <td>${esc(t.workerId)}</td><td>${esc(t.exitCode ?? (t.signal ? "signal " + t.signal : t.httpStatus ?? ""))}</td>
        <td>${(t.attempts || []).map((a) => `#${esc(a.number)} ${esc(a.workerId)} ${badge(a.state)}`).join("<br>")}</td><td>${esc(t.error)}</td></tr>`).join("")}
      </tbody></table>`;
  };

  // Item names for output prefixes, a page of tasks at a time and once per page, only for tasks that printed.
  const namePages = new Set();
  const learnNames = async (indexes) => {
    for (const start of new Set(indexes.filter((i) => names[i] === undefined).map((i) => Math.floor(i / PAGE) * PAGE))) {
      if (namePages.has(start)) continue;
      namePages.add(start);
      const { job } = await api(`/v1/jobs/${encodeURIComponent(id)}?taskOffset=${start}&taskLimit=${PAGE}`);
      for (const t of job.tasks || []) {
        names[t.index ?? 0] = t.spec?.item || String(t.index ?? 0);
        if (t.spec?.item) itemIndex.set(t.spec.item, t.index ?? 0);
      }
    }
  };

  const loadTasks = async () => {
    const query = new URLSearchParams({ taskOffset: String(taskOffset), taskLimit: String(PAGE) });
    if (taskState) query.set("taskState", taskState);
    renderTasks((await api(`/v1/jobs/${encodeURIComponent(id)}?${query}`)).job);
  };
  document.getElementById("task-state").addEventListener("change", (event) => {
    taskState = event.target.value;
    taskOffset = 0;
    loadTasks().catch(fail);
  });
  for (const [button, step] of [["tasks-prev", -PAGE], ["tasks-next", PAGE]]) {
    document.getElementById(button).addEventListener("click", (event) => {
      event.preventDefault();
      taskOffset = Math.max(0, taskOffset + step);
      loadTasks().catch(fail);
    });
  }
  document.getElementById("output-item").addEventListener("change", (event) => {
    // An item's name (or #index) shows that task's output alone; empty shows every task's.
    const wanted = event.target.value.trim();
    shownTask = !wanted ? null : wanted.startsWith("#") ? Number(wanted.slice(1)) : itemIndex.has(wanted) ? itemIndex.get(wanted) : -1;
    for (const span of output.children) span.hidden = shownTask !== null && shownTask !== Number(span.dataset.task);
  });

  const caller = await whoami();
  const cancel = document.getElementById("cancel-job");
  const rerun = document.getElementById("rerun-failed");
  cancel.addEventListener("click", async () => {
    if (!confirm(`Cancel job ${id}? Running tasks are stopped; queued ones never start.`)) return;
    cancel.disabled = true;
    await api(`/v1/jobs/${encodeURIComponent(id)}:cancel`, {}).catch(fail);
  });
  rerun.addEventListener("click", async () => {
    const { job } = await api(`/v1/jobs/${encodeURIComponent(id)}`);
    const failed = (job.tasks || []).filter((t) => t.state !== "TASK_STATE_SUCCEEDED").sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    if (!confirm(`Submit a new job with the ${failed.length} task(s) of ${id} that did not succeed?`)) return;
    const spec = { pool: job.pool, maxParallel: job.maxParallel || 0, maxErrors: job.maxErrors || 0, labels: { ...(job.labels || {}), "rerun-of": job.id }, tasks: failed.map((t) => t.spec) };
    const submitted = await api("/v1/jobs", spec).catch(fail);
    if (submitted) location.hash = `#/jobs/${submitted.job.id}`;
  });

  // A job of a workflow run (distctl run -f workflow.yaml): every job of the run, in order, with its state and needs.
  let workflowShown = 0;
  const showWorkflow = async (job) => {
    const run = (job.labels || {})["workflow-run"];
    if (!run || Date.now() - workflowShown < 2000) return;
    workflowShown = Date.now();
    const { jobs = [] } = await api(`/v1/jobs?labelFilter=${encodeURIComponent("workflow-run=" + run)}&pageSize=1000`);
    jobs.sort((a, b) => new Date(a.createdAt) - new Date(b.createdAt));
    const box = document.getElementById("workflow");
    box.hidden = false;
    box.innerHTML = `<h2>Workflow ${esc((job.labels || {}).workflow || "")} <span class="muted">run ${esc(run)}</span></h2>
      <ol id="workflow-jobs">${jobs.map((j) => `<li data-job="${esc(j.id)}" class="${j.id === job.id ? "current" : ""}"><a href="#/jobs/${esc(j.id)}">${esc((j.labels || {})["workflow-job"] || j.id)}</a> ${badge(j.state)}${(j.labels || {})["workflow-needs"] ? ` <span class="muted">after ${esc(j.labels["workflow-needs"].replace(/,/g, ", "))}</span>` : ""}</li>`).join("")}</ol>`;
  };

  const tick = async () => {
    const { job } = await api(`/v1/jobs/${encodeURIComponent(id)}?countsOnly=true`);
    await showWorkflow(job);
    const ended = TERMINAL.has(job.state);
    cancel.hidden = !caller.canCancel || ended;
    rerun.hidden = !caller.canSubmit || !ended || !["failed", "timedOut", "canceled"].some((k) => (job.counts || {})[k]);
    multi = (job.taskCount || 0) > 1;
    const counts = job.counts || {};
    document.getElementById("job-state").innerHTML = badge(job.state);
    document.getElementById("job-meta").innerHTML =
      `pool ${esc(job.pool)} · ${esc(job.taskCount)} task(s): ${esc(["succeeded", "failed", "timedOut", "canceled", "running", "queued"].filter((k) => counts[k]).map((k) => `${counts[k]} ${k}`).join(", ") || "none started")}` +
      ` · created ${when(job.createdAt)}${job.submittedBy ? " by " + esc(job.submittedBy) : ""}${job.finishedAt ? " · finished " + when(job.finishedAt) : ""}` +
      (job.canceledBy ? ` · <span id="canceled-by">canceled by ${esc(job.canceledBy)}</span>` : "");
    const key = JSON.stringify(counts) + job.state;
    const due = (job.taskCount || 0) <= 100 || Date.now() - lastFull > 5000 || TERMINAL.has(job.state);
    if (key !== lastCounts && due) {
      await loadTasks();
      lastCounts = key;
      lastFull = Date.now();
    }
    await appendOutput();
    if (!TERMINAL.has(job.state) || key !== lastCounts) schedule(() => tick().catch(fail), 500);
  };
  await tick();
}

function describe(spec) {
  if (!spec) return "";
  if (spec.command) return [spec.command.program, ...(spec.command.args || [])].join(" ");
  if (spec.http) return `${spec.http.method || "GET"} ${spec.http.url}`;
  if (spec.plugin) return `${spec.plugin.executor}`;
  return "";
}

// History: the tasks that ended per interval (bars: succeeded green, failed red) and each pool's queue (lines),
// over the last hour or day, from what the master records every HISTORY_INTERVAL_SECONDS.
async function showHistory(params) {
  const minutes = params.get("window") === "day" ? 1440 : 60;
  const { points = [], intervalSeconds = 60 } = await api(`/v1/history?minutes=${minutes}`);
  const ended = points.filter((p) => !p.pool);
  const pools = [...new Set(points.filter((p) => p.pool).map((p) => p.pool))].sort();
  const end = Date.now();
  const start = end - minutes * 60_000;
  const x = (at) => 40 + ((new Date(at).getTime() - start) / (end - start)) * 740;
  const chart = (id, title, max, body) => `<figure class="chart" id="${id}"><figcaption>${esc(title)} <span class="muted">(most: ${esc(max)})</span></figcaption>
    <svg viewBox="0 0 800 180" role="img" aria-label="${esc(title)}"><line x1="40" y1="160" x2="780" y2="160" class="axis"/>
    <text x="36" y="24" class="tick" text-anchor="end">${esc(max)}</text><text x="36" y="160" class="tick" text-anchor="end">0</text>
    <text x="40" y="176" class="tick">${esc(minutes === 60 ? "1 hour ago" : "1 day ago")}</text><text x="780" y="176" class="tick" text-anchor="end">now</text>${body}</svg></figure>`;
  const y = (value, max) => 160 - (value / Math.max(max, 1)) * 140;
  const barWidth = Math.max(1, (intervalSeconds * 1000 / (end - start)) * 740 - 1);
  const endedMax = Math.max(0, ...ended.map((p) => Number(p.succeeded || 0) + Number(p.failed || 0)));
  const bars = ended.map((p) => {
    const ok = Number(p.succeeded || 0), bad = Number(p.failed || 0);
    return `<rect class="bar-ok" data-at="${esc(p.at)}" x="${x(p.at) - barWidth}" y="${y(ok, endedMax)}" width="${barWidth}" height="${160 - y(ok, endedMax)}"/>` +
      `<rect class="bar-bad" data-at="${esc(p.at)}" x="${x(p.at) - barWidth}" y="${y(ok + bad, endedMax)}" width="${barWidth}" height="${y(ok, endedMax) - y(ok + bad, endedMax)}"/>`;
  }).join("");
  const queuedMax = Math.max(0, ...points.filter((p) => p.pool).map((p) => Number(p.queued || 0)));
  const lines = pools.map((pool, i) => `<polyline class="series series-${i % 6}" data-pool="${esc(pool)}" points="${points.filter((p) => p.pool === pool).map((p) => `${x(p.at)},${y(Number(p.queued || 0), queuedMax)}`).join(" ")}"/>`).join("");
  const okTotal = ended.reduce((n, p) => n + Number(p.succeeded || 0), 0);
  const badTotal = ended.reduce((n, p) => n + Number(p.failed || 0), 0);
  view.innerHTML = `<h1>History</h1>
    <div class="filters"><a href="#/history" class="${minutes === 60 ? "active" : ""}" id="window-hour">last hour</a> <a href="#/history?window=day" class="${minutes === 1440 ? "active" : ""}" id="window-day">last day</a>
      <span class="muted">a point every ${esc(intervalSeconds)} s · <span id="ended-totals">${esc(okTotal)} succeeded, ${esc(badTotal)} failed</span></span></div>
    ${chart("chart-ended", "Tasks ended per interval: succeeded, failed", endedMax, bars)}
    ${chart("chart-queued", "Tasks queued per pool", queuedMax, lines)}
    <div class="legend">${pools.map((pool, i) => `<span class="series-${i % 6}">■ ${esc(pool)}</span>`).join(" ") || `<span class="muted">no pools yet</span>`}</div>`;
  schedule(() => showHistory(params).catch(fail), Math.max(5000, intervalSeconds * 1000));
}

// Schedules: each with its cron, policies, next fire and last fire; one schedule's page lists its last fires with
// their jobs, and (for a token that may) pause, resume and trigger.
const policy = (text) => (text || "").replace(/^(OVERLAP_POLICY_|MISSED_FIRE_POLICY_|FIRE_OUTCOME_)/, "").toLowerCase().replace(/_/g, " ");
const fireCell = (f) => f.jobId
  ? `<a href="#/jobs/${esc(f.jobId)}">${esc(f.jobId.slice(0, 8))}</a> ${badge(f.jobState)}`
  : `<span class="muted">${esc(policy(f.outcome))}</span>`;

async function showSchedules() {
  const { schedules = [] } = await api("/v1/schedules");
  view.innerHTML = `<h1>Schedules</h1>
    <table id="schedules"><thead><tr><th>schedule</th><th>cron</th><th>time zone</th><th>runs</th><th>overlap</th><th>missed</th><th>next fire</th><th>last fire</th></tr></thead><tbody>
    ${schedules.map((s) => {
      const last = (s.recentFires || [])[0];
      return `<tr data-schedule="${esc(s.name)}"><td><a href="#/schedules/${encodeURIComponent(s.name)}">${esc(s.name)}</a></td><td><code>${esc(s.cron)}</code></td><td>${esc(s.timeZone || "UTC")}</td>
      <td class="command">${esc(describe((s.job?.tasks || [])[0]))}</td><td>${esc(policy(s.overlap))}</td><td>${esc(policy(s.missed))}</td>
      <td>${s.paused ? `<span class="state state-PAUSED">paused</span>` : when(s.nextFire)}</td><td>${last ? `${when(last.at)} ${fireCell(last)}` : `<span class="muted">not yet</span>`}</td></tr>`;
    }).join("") || `<tr><td colspan="8" class="muted">no schedules: distctl schedule create NAME --cron "*/5 * * * *" -- CMD</td></tr>`}
    </tbody></table>`;
  schedule(() => showSchedules().catch(fail), 2000);
}

async function showSchedule(name) {
  const caller = await whoami().catch(() => ({}));
  const { schedule: s } = await api(`/v1/schedules/${encodeURIComponent(name)}`);
  view.innerHTML = `<h1>Schedule ${esc(s.name)} ${s.paused ? `<span class="state state-PAUSED">paused</span>` : ""}</h1>
    <p class="muted"><code>${esc(s.cron)}</code> in ${esc(s.timeZone || "UTC")} · runs <span class="command">${esc(describe((s.job?.tasks || [])[0]))}</span> in pool ${esc(s.job?.pool || "default")}
      · overlap ${esc(policy(s.overlap))} · missed ${esc(policy(s.missed))} · next fire ${s.paused ? "none (paused)" : when(s.nextFire)}${s.createdBy ? " · created by " + esc(s.createdBy) : ""}
      · <a href="#/jobs?label=${encodeURIComponent("schedule=" + s.name)}">all its jobs</a></p>
    <p><button id="schedule-pause" ${!caller.canSubmit || s.paused ? "hidden" : ""}>Pause</button>
      <button id="schedule-resume" ${!caller.canSubmit || !s.paused ? "hidden" : ""}>Resume</button>
      <button id="schedule-trigger" ${!caller.canSubmit ? "hidden" : ""}>Run now</button></p>
    <table id="fires"><thead><tr><th>tick</th><th>what it did</th><th>note</th></tr></thead><tbody>
    ${(s.recentFires || []).map((f) => `<tr><td>${when(f.at)}${f.manual ? " (run now)" : ""}</td><td>${fireCell(f)}</td><td class="muted">${esc(f.reason)}</td></tr>`).join("")
      || `<tr><td colspan="3" class="muted">no fires yet</td></tr>`}
    </tbody></table>`;
  const act = (verb) => async () => {
    if (verb === "trigger" && !confirm(`Run the job of schedule ${name} now, once?`)) return;
    try {
      const reply = await api(`/v1/schedules/${encodeURIComponent(name)}:${verb}`, {});
      if (verb === "trigger" && reply.job) location.hash = `#/jobs/${reply.job.id}`;
      else route();
    } catch (error) { fail(error); }
  };
  document.getElementById("schedule-pause").addEventListener("click", act("pause"));
  document.getElementById("schedule-resume").addEventListener("click", act("resume"));
  document.getElementById("schedule-trigger").addEventListener("click", act("trigger"));
  schedule(() => showSchedule(name).catch(fail), 2000);
}

async function showWorkers() {
  const { workers = [] } = await api("/v1/workers");
  view.innerHTML = `<h1>Workers</h1>
    <table id="workers"><thead><tr><th>worker</th><th>pool</th><th>state</th><th>running / capacity</th><th>executors</th><th>last heartbeat</th></tr></thead><tbody>
    ${workers.map((w) => `<tr data-worker="${esc(w.workerId)}"><td>${esc(w.workerId)}</td><td>${esc(w.pool)}</td><td>${badge(w.state)}</td>
      <td>${esc(w.runningTasks ?? 0)} / ${esc(w.capacity)}</td><td>${esc((w.executors || []).join(", "))}</td><td>${when(w.lastHeartbeatAt)}</td></tr>`).join("")
      || `<tr><td colspan="6" class="muted">no workers</td></tr>`}
    </tbody></table>`;
  schedule(() => showWorkers().catch(fail), 2000);
}

function fail(error) {
  statusLine.innerHTML = `<span class="error">${esc(error.message)}</span>`;
}

function route() {
  generation++;
  clearTimeout(timer);
  statusLine.textContent = "";
  const hash = location.hash || "#/jobs";
  const [path, query = ""] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  document.getElementById("nav-jobs").classList.toggle("active", !["workers", "history", "schedules"].includes(parts[0]));
  document.getElementById("nav-schedules").classList.toggle("active", parts[0] === "schedules");
  document.getElementById("nav-workers").classList.toggle("active", parts[0] === "workers");
  document.getElementById("nav-history").classList.toggle("active", parts[0] === "history");
  refreshPools();
  whoami().catch(() => { /* shown by the main view */ });
  const shown = parts[0] === "workers" ? showWorkers()
    : parts[0] === "history" ? showHistory(new URLSearchParams(query))
    : parts[0] === "schedules" && parts[1] ? showSchedule(decodeURIComponent(parts[1]))
    : parts[0] === "schedules" ? showSchedules()
    : parts[0] === "jobs" && parts[1] ? showJob(decodeURIComponent(parts[1]))
    : showJobs(new URLSearchParams(query));
  shown.catch(fail);
}

setInterval(refreshPools, 2000);
window.addEventListener("hashchange", route);
route();
