/**
 * The dashboard's page: sign in with a token, then the runs of your tenant (newest first, filtered
 * by status and name) and one run's ops with their state, attempts and where their time went. Plain
 * DOM, no external resource; data is only ever set as text, never as markup.
 */
export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Lzy runs</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
tr.run { cursor: pointer; }
.succeeded, .finished { color: #17702f; } .failed { color: #b00020; } .running, .active, .queued { color: #1a56b0; } .cached { color: #6b4fa0; }
[hidden] { display: none; }
</style>
</head>
<body>
<h1>Lzy runs</h1>
<form id="sign-in">
  <label>Token <input id="token" type="password" autocomplete="off" size="60"></label>
  <button>Sign in</button> <span id="sign-in-error" class="failed"></span>
</form>
<section id="runs-view" hidden>
  <p>Tenant <b id="tenant"></b> · <a href="#" id="sign-out">sign out</a></p>
  <label>Status <select id="status-filter"><option value="">any</option><option>active</option><option>finished</option><option>failed</option><option>cancelled</option></select></label>
  <label>Name <input id="name-filter"></label>
  <table><thead><tr><th>Name</th><th>Run</th><th>Status</th><th>Started</th><th>Duration</th></tr></thead><tbody id="runs"></tbody></table>
</section>
<section id="run-view" hidden>
  <h2 id="run-title"></h2>
  <table><thead><tr><th>Op</th><th>State</th><th>Attempts</th><th>Queue</th><th>Allocate</th><th>Transfer in</th><th>Run</th><th>Transfer out</th><th>Commit</th><th>Miss</th></tr></thead><tbody id="ops"></tbody></table>
</section>
<script>
const $ = (id) => document.getElementById(id);
const ms = (v) => v === undefined ? '-' : v < 1000 ? v.toFixed(v < 10 ? 1 : 0) + 'ms' : (v / 1000).toFixed(1) + 's';
const cell = (row, text, cls) => { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; };
let runs = [];
async function api(path, init) {
  const response = await fetch('/ui' + path, { credentials: 'same-origin', ...init });
  const body = response.status === 204 ? {} : await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error ? body.error.message : response.statusText), { status: response.status });
  return body;
}
function showRuns() {
  const status = $('status-filter').value, name = $('name-filter').value;
  const body = $('runs'); body.replaceChildren();
  for (const run of runs.filter((r) => (!status || r.status === status) && (!name || r.name.includes(name)))) {
    const row = body.insertRow(); row.className = 'run'; row.dataset.workflowId = run.workflowId;
    cell(row, run.name); cell(row, run.workflowId); cell(row, run.status, run.status);
    cell(row, new Date(run.startedAt).toISOString()); cell(row, ms(run.endedAt === undefined ? undefined : run.endedAt - run.startedAt));
    row.onclick = () => showRun(run.workflowId);
  }
}
async function loadRuns() {
  const listed = await api('/api/runs');
  $('tenant').textContent = listed.tenant; runs = listed.runs;
  $('sign-in').hidden = true; $('runs-view').hidden = false; showRuns();
}
async function showRun(workflowId) {
  const detail = await api('/api/runs/' + encodeURIComponent(workflowId));
  $('run-title').textContent = detail.run.name + ' ' + detail.run.workflowId + ' (' + detail.run.status + ')';
  const body = $('ops'); body.replaceChildren();
  for (const op of detail.ops) {
    const sum = (key) => op.timings ? op.timings.reduce((total, t) => total + t[key], 0) : undefined;
    const row = body.insertRow(); row.dataset.opId = op.opId;
    cell(row, op.name + '#' + op.opId.slice(0, 8)); cell(row, op.state, op.state); cell(row, String(op.attempts));
    for (const key of ['queueMs', 'allocateMs', 'transferInMs', 'runMs', 'transferOutMs']) cell(row, ms(sum(key)));
    cell(row, ms(op.commitMs)); cell(row, op.miss ? op.miss.reason : '');
  }
  $('run-view').hidden = false;
}
$('sign-in').onsubmit = async (event) => {
  event.preventDefault();
  try {
    await api('/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: $('token').value }) });
    $('token').value = ''; $('sign-in-error').textContent = ''; await loadRuns();
  } catch (error) { $('sign-in-error').textContent = error.message; }
};
$('sign-out').onclick = async (event) => { event.preventDefault(); await api('/session', { method: 'DELETE' }); location.reload(); };
$('status-filter').onchange = showRuns; $('name-filter').oninput = showRuns;
loadRuns().catch(() => {});
</script>
</body>
</html>
`;
