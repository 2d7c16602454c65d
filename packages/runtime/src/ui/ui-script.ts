/**
 * The dashboard page's script (served as `/ui/app.js`): plain DOM, routed by the URL's hash
 * (`#/runs`, `#/runs/ID`, `#/pools`, `#/whiteboards`). A run's graph is laid out by dagre and
 * follows the run live through `/ui/api/runs/ID/events`, where the server watches it as another
 * watcher. Data is only ever set as text.
 */
export const UI_SCRIPT = String.raw`'use strict';
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const VIEWS = ['sign-in', 'runs-view', 'run-view', 'pools-view', 'whiteboards-view'];
const PHASES = [['queueMs', 'queue'], ['allocateMs', 'allocate'], ['transferInMs', 'transfer in'], ['runMs', 'run'], ['transferOutMs', 'transfer out']];
const STATES = ['waiting', 'queued', 'running', 'succeeded', 'cached', 'failed', 'cancelled'];
const ms = (v) => v === undefined ? '-' : v < 1000 ? v.toFixed(v < 10 ? 1 : 0) + 'ms' : (v / 1000).toFixed(1) + 's';
const time = (at) => new Date(at).toISOString().replace('T', ' ').slice(0, 19);
const cell = (row, text, cls) => { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; };
const svg = (name, attributes) => { const element = document.createElementNS(SVG, name); for (const key in attributes) element.setAttribute(key, String(attributes[key])); return element; };
const countsText = (counts) => counts ? STATES.filter((s) => counts[s] > 0).map((s) => counts[s] + ' ' + s).join(' · ') || 'no ops' : '';

let me;
let runs = [];
let run;
/** The tenant an admin chose to look at; else every tenant's runs (an admin) or the session's own. */
let viewed = sessionStorage.getItem('lzy-view-tenant') || '';

/** An API path, for the tenant an admin looks at (or tenant, that of a run listed among every tenant's). */
function scoped(path, tenant = viewed) {
  return tenant ? path + (path.includes('?') ? '&' : '?') + 'tenant=' + encodeURIComponent(tenant) : path;
}

async function api(path, init) {
  const response = await fetch('/ui' + path, { credentials: 'same-origin', ...init });
  const body = response.status === 204 ? {} : await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error ? body.error.message : response.statusText), { status: response.status });
  return body;
}

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  $('nav').hidden = view === 'sign-in';
  $('error').textContent = '';
}

/** Leaves the run page: stops following its run. */
function leaveRun() {
  if (run && run.events) run.events.close();
  run = undefined;
}

async function route() {
  leaveRun();
  try {
    if (!me) me = await api('/session');
    if (!me.admin) viewed = '';
    $('tenant').textContent = me.tenant;
    $('view-tenant').hidden = !me.admin;
    $('view-tenant-input').value = viewed;
    const [, page, arg] = /^#?\/?([a-z]*)\/?(.*)$/.exec(location.hash);
    const [id, query] = arg.split('?');
    if (page === 'runs' && id) await showRun(decodeURIComponent(id), new URLSearchParams(query || '').get('tenant') || viewed);
    else if (page === 'pools') await showPools();
    else if (page === 'whiteboards') await showWhiteboards();
    else await showRuns();
  } catch (error) {
    if (error.status === 401) {
      me = undefined;
      show('sign-in');
    } else $('error').textContent = error.message;
  }
}

// Runs

function listRuns() {
  const status = $('status-filter').value, name = $('name-filter').value;
  const body = $('runs');
  body.replaceChildren();
  for (const listed of runs.filter((r) => (!status || r.status === status) && (!name || r.name.includes(name)))) {
    const row = body.insertRow();
    row.className = 'link';
    row.dataset.workflowId = listed.workflowId;
    if (listed.tenant) cell(row, listed.tenant);
    cell(row, listed.name); cell(row, listed.workflowId); cell(row, listed.status, listed.status);
    cell(row, time(listed.startedAt)); cell(row, ms(listed.endedAt === undefined ? undefined : listed.endedAt - listed.startedAt));
    cell(row, countsText(listed.counts));
    row.onclick = () => { location.hash = '#/runs/' + encodeURIComponent(listed.workflowId) + (listed.tenant ? '?tenant=' + encodeURIComponent(listed.tenant) : ''); };
  }
}

async function showRuns() {
  // An admin looking at no tenant in particular sees every tenant's runs, each with its tenant.
  const allTenants = me.admin && !viewed;
  const listed = await api(allTenants ? '/api/runs?tenants=all' : scoped('/api/runs'));
  runs = listed.runs;
  $('runs-tenant').hidden = !allTenants;
  $('runs-more').textContent = listed.more > 0 ? listed.more + ' older runs not listed (lzy status --skip N lists them)' : '';
  show('runs-view');
  listRuns();
}

// One run

async function showRun(workflowId, tenant) {
  run = { workflowId, tenant, layoutKey: '', nodes: new Map(), selected: undefined, refreshing: false, again: false, logFor: undefined };
  const current = run;
  show('run-view');
  $('graph').replaceChildren();
  $('op-view').hidden = true;
  $('run-title').textContent = 'Run ' + workflowId;
  $('run-summary').textContent = '';
  try {
    await refreshRun(current);
  } catch (error) {
    if (error.status !== 404) throw error;
    $('run-summary').textContent = 'No run ' + workflowId + ' (of tenant ' + (tenant || me.tenant) + ').';
    return;
  }
  if (current === run && current.detail.run.status === 'active') follow(current);
}

/** Follows the run: each event the server hears of it brings the page up to date. */
function follow(current) {
  current.events = new EventSource('/ui' + scoped('/api/runs/' + encodeURIComponent(current.workflowId) + '/events', current.tenant));
  current.events.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === 'op-log' && current.logFor === event.opId) appendLog(event);
    if (event.type === 'workflow-ended') current.events.close();
    refreshSoon(current);
  };
}

/** Describes the run again: at once, or once the describe in flight has answered. */
function refreshSoon(current) {
  if (current.refreshing) { current.again = true; return; }
  current.refreshing = true;
  refreshRun(current).catch((error) => { $('error').textContent = error.message; }).finally(() => {
    current.refreshing = false;
    if (current.again) { current.again = false; refreshSoon(current); }
  });
}

async function refreshRun(current) {
  const detail = await api(scoped('/api/runs/' + encodeURIComponent(current.workflowId), current.tenant));
  if (current !== run) return;
  current.detail = detail;
  $('run-title').textContent = detail.run.name + ' ' + detail.run.workflowId;
  $('run-summary').replaceChildren();
  const status = document.createElement('b');
  status.className = detail.run.status;
  status.textContent = detail.run.status;
  $('run-summary').append(status, ' · started ' + time(detail.run.startedAt) + (detail.run.endedAt === undefined ? '' : ' · took ' + ms(detail.run.endedAt - detail.run.startedAt)) + ' · ' + countsText(detail.counts) + (detail.reason ? ' · ' + detail.reason : ''));
  const key = detail.ops.map((op) => op.opId + '<' + (op.after || []).join(',')).join(';');
  if (key !== current.layoutKey) { layOut(current, detail.ops); current.layoutKey = key; }
  for (const op of detail.ops) {
    const node = current.nodes.get(op.opId);
    node.setAttribute('class', 'op ' + op.state + (current.selected === op.opId ? ' selected' : ''));
    node.dataset.state = op.state;
    node.querySelector('title').textContent = op.name + ' #' + op.opId + ': ' + op.state;
  }
  const selected = detail.ops.find((op) => op.opId === current.selected);
  if (selected) showOp(current, selected);
}

/** Draws the run's graph: ops as boxes, an edge from each op to those that take its result, laid out by dagre. */
function layOut(current, ops) {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 50, marginx: 10, marginy: 10 });
  graph.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(ops.map((op) => op.opId));
  for (const op of ops) graph.setNode(op.opId, { width: Math.max(90, 7.5 * op.name.length + 24), height: 34 });
  for (const op of ops) for (const from of op.after || []) if (ids.has(from)) graph.setEdge(from, op.opId);
  dagre.layout(graph);
  const { width, height } = graph.graph();
  const canvas = $('graph');
  canvas.replaceChildren();
  canvas.setAttribute('width', width); canvas.setAttribute('height', height);
  canvas.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#888' }));
  const defs = svg('defs', {});
  defs.append(marker);
  canvas.append(defs);
  for (const edge of graph.edges()) {
    const points = graph.edge(edge).points;
    canvas.append(svg('path', { class: 'edge', d: 'M' + points.map((p) => p.x + ',' + p.y).join(' L'), 'marker-end': 'url(#arrow)' }));
  }
  current.nodes.clear();
  for (const op of ops) {
    const box = graph.node(op.opId);
    const node = svg('g', { class: 'op ' + op.state, transform: 'translate(' + (box.x - box.width / 2) + ',' + (box.y - box.height / 2) + ')' });
    node.dataset.opId = op.opId;
    node.dataset.name = op.name;
    node.append(svg('title', {}), svg('rect', { width: box.width, height: box.height, rx: 6 }));
    const label = svg('text', { x: box.width / 2, y: box.height / 2 + 4, 'text-anchor': 'middle' });
    label.textContent = op.name;
    node.append(label);
    node.onclick = () => selectOp(current, op.opId);
    canvas.append(node);
    current.nodes.set(op.opId, node);
  }
}

function selectOp(current, opId) {
  const before = current.nodes.get(current.selected);
  if (before) before.classList.remove('selected');
  current.selected = opId;
  current.nodes.get(opId).classList.add('selected');
  showOp(current, current.detail.ops.find((op) => op.opId === opId));
  loadLog(current, opId).catch((error) => { $('error').textContent = error.message; });
}

/** The op's panel: its attempts, why it missed the cache, where its time went. */
function showOp(current, op) {
  $('op-view').hidden = false;
  $('op-title').textContent = op.name + ' #' + op.opId;
  $('op-summary').textContent = op.state + ' · ' + op.attempts + (op.attempts === 1 ? ' attempt' : ' attempts') + (op.startedAt === undefined ? '' : ' · started ' + time(op.startedAt)) + (op.endedAt === undefined || op.startedAt === undefined ? '' : ' · took ' + ms(op.endedAt - op.startedAt));
  $('op-miss').textContent = op.miss ? 'Not taken from the cache: ' + op.miss.reason + (op.miss.files && op.miss.files.length ? ' (' + op.miss.files.join(', ') + ')' : '') : op.state === 'cached' ? 'Taken from the cache.' : '';
  const timings = op.timings || [];
  const parts = PHASES.map(([key, label]) => [label, timings.reduce((sum, t) => sum + t[key], 0)]);
  if (op.commitMs !== undefined) parts.push(['commit', op.commitMs]);
  const total = parts.reduce((sum, [, v]) => sum + v, 0);
  const split = $('op-split'), legend = $('op-split-legend');
  split.replaceChildren(); legend.replaceChildren();
  split.hidden = legend.hidden = total === 0;
  for (const [label, value] of parts) {
    const cls = 'phase-' + label.replace(' ', '-');
    const bar = document.createElement('div');
    bar.className = cls;
    bar.style.width = (100 * value / total) + '%';
    bar.title = label + ' ' + ms(value);
    split.append(bar);
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.className = cls;
    item.append(swatch, label + ' ' + ms(value));
    legend.append(item);
  }
  const body = $('op-attempts');
  body.replaceChildren();
  for (const t of timings) {
    const row = body.insertRow();
    cell(row, String(t.attempt)); cell(row, t.nodeId || '-'); cell(row, t.ok ? 'ok' : 'failed', t.ok ? 'succeeded' : 'failed');
    for (const [key] of PHASES) cell(row, ms(t[key]));
  }
}

async function loadLog(current, opId) {
  current.logFor = undefined;
  $('op-log').replaceChildren();
  const { entries } = await api(scoped('/api/runs/' + encodeURIComponent(current.workflowId) + '/logs?op=' + encodeURIComponent(opId), current.tenant));
  if (current !== run || current.selected !== opId) return;
  for (const entry of entries) appendLog(entry);
  current.logFor = opId;
}

function appendLog(entry) {
  const line = document.createElement('span');
  line.className = entry.stream;
  line.textContent = entry.text;
  $('op-log').append(line);
}

// Pools

async function showPools() {
  const { leases } = await api(scoped('/api/pools'));
  show('pools-view');
  const groups = new Map();
  for (const lease of leases) {
    const key = lease.pool + '\u0000' + lease.tenant + '\u0000' + lease.state;
    groups.set(key, (groups.get(key) || 0) + 1);
  }
  const counts = $('pool-counts');
  counts.replaceChildren();
  for (const [key, n] of [...groups].sort()) {
    const [pool, tenant, state] = key.split('\u0000');
    const row = counts.insertRow();
    cell(row, pool); cell(row, tenant); cell(row, state, state); cell(row, String(n));
  }
  const body = $('leases');
  body.replaceChildren();
  for (const lease of leases) {
    const row = body.insertRow();
    cell(row, lease.nodeId); cell(row, lease.pool); cell(row, lease.tenant); cell(row, lease.state, lease.state); cell(row, time(lease.since)); cell(row, lease.reason || '');
  }
}

// Whiteboards

async function showWhiteboards() {
  const query = new URLSearchParams();
  if ($('whiteboard-name').value) query.set('name', $('whiteboard-name').value);
  const tags = $('whiteboard-tags').value.split(',').map((tag) => tag.trim()).filter(Boolean);
  if (tags.length) query.set('tags', tags.join(','));
  const { whiteboards } = await api(scoped('/api/whiteboards?' + query));
  show('whiteboards-view');
  const list = $('whiteboards');
  list.replaceChildren();
  if (whiteboards.length === 0) list.textContent = 'No whiteboard matches.';
  for (const board of whiteboards) {
    const title = document.createElement('h3');
    title.textContent = board.name + (board.tags.length ? ' [' + board.tags.join(', ') + ']' : '');
    const about = document.createElement('p');
    about.textContent = 'run ' + board.workflowName + ' ' + board.workflowId + ' · finalized ' + time(board.finalizedAt);
    const table = document.createElement('table');
    table.className = 'whiteboard';
    table.dataset.id = board.id;
    const head = table.createTHead().insertRow();
    for (const label of ['Field', 'Value', 'Size', 'Stored as']) cell(head, label);
    const body = table.createTBody();
    for (const field of board.fields) {
      const row = body.insertRow();
      cell(row, field.name); cell(row, field.preview === undefined ? '(stored)' : field.preview); cell(row, field.size + ' B'); cell(row, field.uri || 'inline');
    }
    list.append(title, about, table);
  }
}

$('whiteboard-query').onsubmit = (event) => { event.preventDefault(); showWhiteboards().catch((error) => { $('error').textContent = error.message; }); };

async function signIn(token) {
  try {
    me = await api('/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    $('sign-in-error').textContent = '';
  } catch (error) { $('sign-in-error').textContent = error.message; }
  await route();
}

$('sign-in').onsubmit = (event) => {
  event.preventDefault();
  const token = $('token').value;
  $('token').value = '';
  signIn(token);
};
$('sign-out').onclick = async (event) => { event.preventDefault(); await api('/session', { method: 'DELETE' }); sessionStorage.removeItem('lzy-view-tenant'); location.hash = ''; location.reload(); };
$('view-tenant-input').onchange = () => {
  viewed = $('view-tenant-input').value.trim();
  sessionStorage.setItem('lzy-view-tenant', viewed);
  route();
};
$('status-filter').onchange = listRuns;
$('name-filter').oninput = listRuns;
window.onhashchange = route;
// A sign-in link (as lzy ui prints): its token is taken out of the address before anything else.
const link = /^#token=(.+)$/.exec(location.hash);
if (link) {
  history.replaceState(null, '', location.pathname);
  signIn(decodeURIComponent(link[1]));
} else route();
`;
