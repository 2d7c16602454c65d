import t from 'tap';
import { fixture, lzy, startServer, tempDir } from './harness.js';

/** The samples of a Prometheus text exposition, by `name{labels}` as written. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line of the text format: ${line}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

/** `GET /metrics` of `url`'s server with `token` as a bearer token, if any. */
async function scrape(url: string, token?: string): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${url.replace(/^ws/, 'http')}/metrics`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

const NAMES = [
  'lzy_ops_total',
  'lzy_op_phase_seconds',
  'lzy_workflows',
  'lzy_leases',
  'lzy_journal_commit_seconds',
  'lzy_ws_frames_total',
  'lzy_auth_failures_total',
  'process_cpu_user_seconds_total',
];

t.test('GET /metrics with an admin token: Prometheus text whose counts move as a workflow runs', async (t) => {
  const server = await startServer(t);
  const env = { LZY_ENDPOINT: server.url, LZY_TOKEN: server.adminToken };
  const first = await scrape(server.url, server.adminToken);
  t.equal(first.status, 200, first.text);
  t.match(first.type, /^text\/plain; version=0\.0\.4/);
  for (const name of NAMES) t.match(first.text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exposed`);
  const before = parseExposition(first.text);

  const run = await lzy(['run', fixture('chain-program')], { ...env, LZY_TEST_DIR: tempDir(t) });
  t.equal(run.code, 0, run.stderr);
  const after = parseExposition((await scrape(server.url, server.adminToken)).text);
  const moved = (sample: string) => (after.get(sample) ?? 0) - (before.get(sample) ?? 0);
  t.equal(moved('lzy_ops_total{state="succeeded"}'), 3, 'the three ops of the chain succeeded');
  t.equal(moved('lzy_op_phase_seconds_count{phase="run"}'), 3, 'each attempt’s run was observed');
  t.equal(moved('lzy_op_phase_seconds_count{phase="allocate"}'), 3, 'and its wait for a node');
  t.equal(moved('lzy_workflows{state="finished"}'), 1, 'the run finished');
  t.equal(after.get('lzy_workflows{state="active"}'), 0, 'and none is active');
  t.ok(moved('lzy_journal_commit_seconds_count') >= 1, 'the ops’ outcomes were journaled');
  t.ok(after.get('lzy_leases{pool="default",state="ready"}')! >= 1, 'a node of the default pool is leased and up');
  t.ok(moved('lzy_ws_frames_total{direction="in"}') > 0 && moved('lzy_ws_frames_total{direction="out"}') > 0, 'the gateway carried frames both ways');
});

t.test('/metrics refuses a request without a token, a bad token and a tenant’s token, unless --metrics-public', async (t) => {
  const server = await startServer(t);
  const failures = async () => parseExposition((await scrape(server.url, server.adminToken)).text).get('lzy_auth_failures_total')!;
  const failedBefore = await failures();
  const none = await scrape(server.url);
  t.equal(none.status, 401);
  t.match(none.text, /need an admin token/);
  const bad = await scrape(server.url, 'lzy_not-a-token');
  t.equal(bad.status, 401);
  t.notMatch(bad.text, /not-a-token/, 'the refusal does not quote the token');
  const created = await lzy(['token', 'create', '--tenant', 'team', '--endpoint', server.url, '--token', server.adminToken]);
  t.equal(created.code, 0, created.stderr);
  const tenant = await scrape(server.url, created.lines.at(-1)!);
  t.equal(tenant.status, 403);
  t.match(tenant.text, /need the admin role/);
  t.notMatch(tenant.text, /lzy_ops_total/, 'no metric is given away');
  t.equal((await failures()) - failedBefore, 2, 'the missing and the bad token count as failed authentications');

  const open = await startServer(t, { args: ['--metrics-public'] });
  const anyone = await scrape(open.url);
  t.equal(anyone.status, 200);
  t.match(anyone.text, /^# TYPE lzy_ops_total counter$/m);
});
