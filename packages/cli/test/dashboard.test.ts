import t from 'tap';
import { fixture, lzy, startServer, tempDir } from './harness.js';

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
    const created = await lzy(['token', 'create', '--tenant', tenant, '--endpoint', server.url, '--token', server.adminToken]);
    t.equal(created.code, 0, created.stderr);
    tokens[tenant] = created.lines.at(-1)!;
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
