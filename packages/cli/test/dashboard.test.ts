import t from 'tap';
import { fixture, lzy, startServer, tempDir, tenantToken } from './harness.js';

/** Signs in to the dashboard of `base` with `token`; the session's cookie, or the refusal's status. */
async function signIn(base: string, token: string): Promise<{ status: number; cookie?: string }> {
  const response = await fetch(`${base}/ui/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  await response.arrayBuffer();
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  return cookie === undefined ? { status: response.status } : { status: response.status, cookie };
}

interface Runs {
  tenant: string;
  runs: Array<{ workflowId: string; name: string; status: string }>;
}

interface Run {
  ops: Array<{ timings?: unknown[] }>;
}

async function get<T>(base: string, path: string, cookie?: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, cookie === undefined ? {} : { headers: { cookie } });
  return { status: response.status, body: (await response.json()) as T };
}

t.test('the dashboard: its page is HTML, and a tenant’s session sees its own runs only, through every API', async (t) => {
  const server = await startServer(t);
  const base = server.url.replace(/^ws/, 'http');
  const page = await fetch(`${base}/ui/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.match(await page.text(), /<title>Lzy runs<\/title>/);

  const tokens: Record<string, string> = {};
  for (const tenant of ['alpha', 'beta']) {
    tokens[tenant] = await tenantToken(server, tenant);
    const run = await lzy(['run', fixture('chain-program')], { LZY_ENDPOINT: server.url, LZY_TOKEN: tokens[tenant], LZY_TEST_DIR: tempDir(t) });
    t.equal(run.code, 0, run.stderr);
  }

  t.equal((await signIn(base, 'lzy_not-a-token')).status, 401, 'a bad token does not sign in');
  t.equal((await get(base, '/ui/api/runs')).status, 401, 'no session, no runs');
  const alpha = (await signIn(base, tokens['alpha']!)).cookie!;
  const beta = (await signIn(base, tokens['beta']!)).cookie!;
  t.match(alpha, /^lzy_ui_session=[\w-]{43}$/);
  t.notOk(alpha.includes(tokens['alpha']!), 'the session cookie is not the token');

  const alphaRuns = await get<Runs>(base, '/ui/api/runs', alpha);
  t.equal(alphaRuns.status, 200);
  t.match(alphaRuns.body, { tenant: 'alpha', runs: [{ name: 'chain', status: 'finished' }] });
  t.equal(alphaRuns.body.runs.length, 1, 'alpha sees its one run');
  const betaRuns = await get<Runs>(base, '/ui/api/runs', beta);
  const betaRun = betaRuns.body.runs[0]!.workflowId;
  t.not(betaRun, alphaRuns.body.runs[0]!.workflowId, 'beta sees its own');

  const own = await get<Run>(base, `/ui/api/runs/${betaRun}`, beta);
  t.equal(own.status, 200);
  t.equal(own.body.ops.length, 3, 'a run comes with its ops');
  t.ok(own.body.ops.every((op) => op.timings?.length === 1), 'and where their time went');
  const other = await get(base, `/ui/api/runs/${betaRun}`, alpha);
  t.equal(other.status, 404, 'another tenant’s run is not found');
  t.notOk(JSON.stringify(other.body).includes('chain'), 'and nothing of it is told');

  const out = await fetch(`${base}/ui/session`, { method: 'DELETE', headers: { cookie: alpha } });
  t.equal(out.status, 204);
  t.equal((await get(base, '/ui/api/runs', alpha)).status, 401, 'a closed session reads nothing');
});

t.test('through every dashboard API, a tenant’s session reads nothing of another tenant, and an admin’s reads every tenant', async (t) => {
  const server = await startServer(t);
  const base = server.url.replace(/^ws/, 'http');
  const tokens: Record<string, string> = {};
  for (const tenant of ['alpha', 'beta']) {
    tokens[tenant] = await tenantToken(server, tenant);
    const run = await lzy(['run', fixture('whiteboard-program')], { LZY_ENDPOINT: server.url, LZY_TOKEN: tokens[tenant], LZY_TEST_DIR: tempDir(t), LZY_TEST_TAG: tenant });
    t.equal(run.code, 0, run.stderr);
  }
  const alpha = (await signIn(base, tokens['alpha']!)).cookie!;
  const beta = (await signIn(base, tokens['beta']!)).cookie!;
  const admin = (await signIn(base, server.adminToken)).cookie!;
  const betaRun = (await get<Runs>(base, '/ui/api/runs', beta)).body.runs[0]!.workflowId;
  const betaOp = (await get<{ ops: Array<{ opId: string }> }>(base, `/ui/api/runs/${betaRun}`, beta)).body.ops[0]!.opId;
  const own = await get<{ whiteboards: Array<{ tags: string[]; fields: Array<{ name: string; preview?: string }> }> }>(base, '/ui/api/whiteboards?name=report', beta);
  t.equal(own.status, 200);
  t.match(own.body.whiteboards, [{ tags: ['cli', 'beta'], fields: [{ name: 'answer', preview: '42' }, { name: 'summary' }] }], 'a tenant finds its whiteboard, with its fields');

  const refusals: Array<[path: string, status: number]> = [
    [`/ui/api/runs/${betaRun}`, 404],
    [`/ui/api/runs/${betaRun}/events`, 404],
    [`/ui/api/runs/${betaRun}/logs?op=${betaOp}`, 404],
    ['/ui/api/runs?tenant=beta', 403],
    ['/ui/api/runs?tenants=all', 403],
    [`/ui/api/runs/${betaRun}?tenant=beta`, 403],
    [`/ui/api/runs/${betaRun}/events?tenant=beta`, 403],
    [`/ui/api/runs/${betaRun}/logs?op=${betaOp}&tenant=beta`, 403],
    ['/ui/api/whiteboards?tenant=beta', 403],
    ['/ui/api/pools?tenant=beta', 403],
  ];
  for (const [path, status] of refusals) {
    const answer = await get(base, path, alpha);
    t.equal(answer.status, status, `alpha’s session: ${path} is ${status}`);
    t.notOk(/report|"beta"|cli/.test(JSON.stringify(answer.body)), 'and tells nothing of it');
  }
  const alphaBoards = await get<{ whiteboards: Array<{ tags: string[] }> }>(base, '/ui/api/whiteboards', alpha);
  t.same(alphaBoards.body.whiteboards.map((board) => board.tags), [['cli', 'alpha']], 'a tenant’s whiteboards are its own');
  const alphaPools = await get<{ leases: Array<{ tenant: string }> }>(base, '/ui/api/pools', alpha);
  t.ok(alphaPools.body.leases.length > 0, 'a tenant sees the nodes it leased');
  t.ok(alphaPools.body.leases.every((lease) => lease.tenant === 'alpha'), 'and no other tenant’s');

  const adminPools = await get<{ leases: Array<{ tenant: string; pool: string; state: string }> }>(base, '/ui/api/pools', admin);
  t.same([...new Set(adminPools.body.leases.map((lease) => lease.tenant))].sort(), ['alpha', 'beta'], 'an admin sees every tenant’s leases');
  t.match(adminPools.body.leases[0], { pool: 'default', state: /^(allocating|ready|releasing|gone)$/ });
  const adminView = await get<Runs>(base, '/ui/api/runs?tenant=beta', admin);
  t.match(adminView.body, { tenant: 'beta', runs: [{ workflowId: betaRun }] }, 'and any tenant’s runs');
  t.equal((await get(base, `/ui/api/runs/${betaRun}?tenant=beta`, admin)).status, 200);
  const everyTenant = await get<{ runs: Array<{ tenant: string; workflowId: string; counts?: { succeeded: number } }> }>(base, '/ui/api/runs?tenants=all', admin);
  t.equal(everyTenant.status, 200);
  t.same(everyTenant.body.runs.map((run) => run.tenant).sort(), ['alpha', 'beta'], "an admin lists every tenant's runs in one list, each with its tenant");
  t.match(everyTenant.body.runs.find((run) => run.workflowId === betaRun), { tenant: 'beta', counts: { succeeded: Number } }, "with another tenant's run's op counts");
});
