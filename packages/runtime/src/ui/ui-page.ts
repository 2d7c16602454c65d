/**
 * The dashboard's page: sign in with a token, then the runs of your tenant, one run's graph (live),
 * its ops' attempts, logs, cache misses and time split, the nodes leased, and the whiteboards. Its
 * script is `/ui/app.js` (see `ui-script.ts`), its graph layout `/ui/dagre.min.js`; no other
 * resource, and data is only ever set as text, never as markup.
 */
export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Lzy runs</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em 2em; color: #222; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
tr.link { cursor: pointer; } tr.link:hover { background: #f4f6fa; }
.succeeded, .finished { color: #17702f; } .failed { color: #b00020; } .running, .active, .queued, .busy { color: #1a56b0; } .cached { color: #6b4fa0; } .cancelled, .waiting, .gone { color: #666; }
#graph { display: block; margin: 1em 0; max-width: 100%; height: auto; }
#graph .op { cursor: pointer; }
#graph .op rect { stroke: #555; stroke-width: 1; fill: #eee; }
#graph .op.selected rect { stroke: #000; stroke-width: 2.5; }
#graph .op.queued rect { fill: #dbe7fb; } #graph .op.running rect { fill: #7fa7ef; }
#graph .op.succeeded rect { fill: #8fd19e; } #graph .op.cached rect { fill: #cbb8ec; }
#graph .op.failed rect { fill: #f19999; } #graph .op.cancelled rect { fill: #bbb; }
#graph .op text { font: 12px system-ui, sans-serif; fill: #111; pointer-events: none; }
#graph .edge { fill: none; stroke: #888; stroke-width: 1.2; }
.legend span { display: inline-block; margin-right: 1em; }
.legend i, .split i { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: -0.1em; }
.split { display: flex; width: 36em; height: 1.2em; border: 1px solid #ccc; margin: 0.5em 0; }
.split div { height: 100%; }
.phase-queue { background: #c9c9c9; } .phase-allocate { background: #f0b45b; } .phase-transfer-in { background: #7fc6e0; }
.phase-run { background: #5a9e5a; } .phase-transfer-out { background: #3d7fb0; } .phase-commit { background: #9a74c4; }
#op-log { background: #f6f6f6; padding: 0.6em; max-height: 24em; overflow: auto; white-space: pre-wrap; }
.stderr { color: #b00020; }
.error { color: #b00020; }
[hidden] { display: none !important; }
</style>
<script src="/ui/dagre.min.js" defer></script>
<script src="/ui/app.js" defer></script>
</head>
<body>
<h1>Lzy</h1>
<form id="sign-in" hidden>
  <label>Token <input id="token" type="password" autocomplete="off" size="60"></label>
  <button>Sign in</button> <span id="sign-in-error" class="error"></span>
</form>
<nav id="nav" hidden>
  <a href="#/runs">Runs</a><a href="#/pools">Pools</a><a href="#/whiteboards">Whiteboards</a>
  · tenant <b id="tenant"></b> <label id="view-tenant" hidden>· viewing tenant <input id="view-tenant-input" size="16" placeholder="every tenant"></label> · <a href="#" id="sign-out">sign out</a>
</nav>
<p id="error" class="error"></p>
<section id="runs-view" hidden>
  <h2>Runs</h2>
  <label>Status <select id="status-filter"><option value="">any</option><option>active</option><option>finished</option><option>failed</option><option>cancelled</option></select></label>
  <label>Name <input id="name-filter"></label>
  <table><thead><tr><th id="runs-tenant" hidden>Tenant</th><th>Name</th><th>Run</th><th>Status</th><th>Started</th><th>Duration</th><th>Ops</th></tr></thead><tbody id="runs"></tbody></table>
  <p id="runs-more"></p>
</section>
<section id="run-view" hidden>
  <h2 id="run-title"></h2>
  <p id="run-summary"></p>
  <p class="legend"><span class="waiting"><i style="background:#eee"></i>waiting</span><span><i style="background:#dbe7fb"></i>queued</span><span><i style="background:#7fa7ef"></i>running</span><span><i style="background:#8fd19e"></i>succeeded</span><span><i style="background:#cbb8ec"></i>cached</span><span><i style="background:#f19999"></i>failed</span><span><i style="background:#bbb"></i>cancelled</span></p>
  <svg id="graph" xmlns="http://www.w3.org/2000/svg"></svg>
  <div id="op-view" hidden>
    <h3 id="op-title"></h3>
    <p id="op-summary"></p>
    <p id="op-miss"></p>
    <div class="split" id="op-split"></div>
    <p class="legend" id="op-split-legend"></p>
    <table><thead><tr><th>Attempt</th><th>Node</th><th>Outcome</th><th>Queue</th><th>Allocate</th><th>Transfer in</th><th>Run</th><th>Transfer out</th></tr></thead><tbody id="op-attempts"></tbody></table>
    <h4>Logs</h4>
    <pre id="op-log"></pre>
  </div>
</section>
<section id="pools-view" hidden>
  <h2>Pools</h2>
  <table><thead><tr><th>Pool</th><th>Tenant</th><th>State</th><th>Nodes</th></tr></thead><tbody id="pool-counts"></tbody></table>
  <h3>Leases</h3>
  <p>Node leases made since the server started: each live one, and the latest gone.</p>
  <table><thead><tr><th>Node</th><th>Pool</th><th>Tenant</th><th>State</th><th>Since</th><th>Why</th></tr></thead><tbody id="leases"></tbody></table>
</section>
<section id="whiteboards-view" hidden>
  <h2>Whiteboards</h2>
  <form id="whiteboard-query"><label>Name <input id="whiteboard-name"></label> <label>Tags <input id="whiteboard-tags" placeholder="a, b"></label> <button>Find</button></form>
  <div id="whiteboards"></div>
</section>
</body>
</html>
`;
