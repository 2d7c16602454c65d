import { writeFileSync } from 'node:fs';
import t from 'tap';
import { fixture, lzy, runs, startServer, tempDir, tenantToken, waitUntil } from './harness.js';
import { startProcess } from '@lzy/actors/testing';

const server = await startServer(t);
const env = { LZY_ENDPOINT: server.url, LZY_TOKEN: server.adminToken };

interface OpJson {
  opId: string;
  name: string;
  state: string;
  attempts: number;
  startedAt?: number;
  endedAt?: number;
  durationMs?: number;
  miss?: { reason: string };
}

/** The id of the newest run named `name`. */
async function newest(name: string, environment: NodeJS.ProcessEnv = env): Promise<string> {
  const list = JSON.parse((await lzy(['status', '--json'], environment)).lines.at(-1)!) as Array<{ workflowId: string; name: string; startedAt: number }>;
  return list.filter((run) => run.name === name).sort((a, b) => b.startedAt - a.startedAt)[0]!.workflowId;
}

t.test('lzy status WORKFLOW counts its ops by state: cached, succeeded after a retry, succeeded', async (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 2; i++) {
    const run = await lzy(['run', fixture('mixed-program')], { ...env, LZY_TEST_DIR: dir });
    t.equal(run.code, 0, run.stderr);
    t.equal(JSON.parse(run.lines.at(-1)!), 4);
  }
  t.equal(runs(dir, 'cached'), 1, 'the second run took the cached step from the cache');
  t.equal(runs(dir, 'flaky'), 4, 'the flaky step failed once and succeeded once in each run');
  const workflowId = await newest('mixed');

  const json = await lzy(['status', workflowId, '--json'], env);
  t.equal(json.code, 0, json.stderr);
  const detail = JSON.parse(json.lines.at(-1)!) as { status: string; durationMs: number; counts: Record<string, number>; ops: OpJson[] };
  t.match(detail, { workflowId, name: 'mixed', status: 'finished' });
  t.ok(detail.durationMs >= 0, 'the run has a duration');
  t.same(detail.counts, { waiting: 0, queued: 0, running: 0, succeeded: 3, cached: 1, failed: 0, cancelled: 0 });
  const byName = new Map(detail.ops.map((op) => [op.name, op]));
  t.same([...byName.keys()].sort(), ['cachedStep', 'flaky', 'step'], 'the two plain steps share a name');
  t.match(byName.get('cachedStep'), { state: 'cached', attempts: 0 });
  t.notOk(byName.get('cachedStep')!.miss, 'a hit has no miss reason');
  t.match(byName.get('flaky'), { state: 'succeeded', attempts: 2 });
  t.equal(detail.ops.filter((op) => op.name === 'step' && op.state === 'succeeded' && op.attempts === 1).length, 2);
  for (const op of detail.ops) {
    t.ok(op.startedAt! <= op.endedAt! && op.durationMs === op.endedAt! - op.startedAt!, `${op.name} has its start, end and duration`);
  }

  const first = JSON.parse((await lzy(['status', await firstRun(), '--json'], env)).lines.at(-1)!) as { ops: OpJson[] };
  t.match(first.ops.find((op) => op.name === 'cachedStep'), { state: 'succeeded', attempts: 1, miss: { reason: 'never-cached' } }, 'the first run says why the step was not cached');

  const text = await lzy(['status', workflowId], env);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^status\s+finished$/m);
  t.match(text.stdout, /^ops\s+waiting 0, queued 0, running 0, succeeded 3, cached 1, failed 0, cancelled 0$/m);
  t.match(text.stdout, /^OP\s+STATE\s+ATTEMPTS\s+STARTED\s+ENDED\s+DURATION\s+CACHE$/m);
  t.match(text.stdout, /^cachedStep#\S+\s+cached\s+0\s.*\shit$/m);
  t.match(text.stdout, /^flaky#\S+\s+succeeded\s+2\s/m);

  async function firstRun(): Promise<string> {
    const list = JSON.parse((await lzy(['status', '--json'], env)).lines.at(-1)!) as Array<{ workflowId: string; name: string; startedAt: number }>;
    return list.filter((run) => run.name === 'mixed').sort((a, b) => a.startedAt - b.startedAt)[0]!.workflowId;
  }
});

t.test('lzy status WORKFLOW --follow prints the run’s state changes until it ends', async (t) => {
  const dir = tempDir(t);
  const running = lzy(['run', fixture('gated-program')], { ...env, LZY_TEST_DIR: dir });
  await waitUntil(() => runs(dir, 'b') === 1, 'op b to start', 60_000);
  const workflowId = await newest('gated');
  const follower = startProcess(t, new URL('../../bin/lzy.js', import.meta.url), ['status', workflowId, '--follow'], env);
  await follower.waitForLine((line) => /^ops\s+.*running 1, succeeded 1,/.test(line), 'the run with op b running', 60_000);

  const second = startProcess(t, new URL('../../bin/lzy.js', import.meta.url), ['status', workflowId, '--follow', '--json'], env);
  await second.waitForLine((line) => line.startsWith('{') && JSON.parse(line).status === 'active', 'the second follower to describe the run', 60_000);
  writeFileSync(`${dir}/b.go`, '');
  t.equal((await running).code, 0, 'the run itself is not disturbed by its followers');
  t.same(await follower.exited, { code: 0, signal: null });
  t.match(follower.lines.at(-1), /workflow finished$/);
  t.ok(follower.lines.some((line) => /running 0, succeeded 2, /.test(line)), 'the follower saw op b succeed');
  t.same(await second.exited, { code: 0, signal: null });
  t.match(JSON.parse(second.lines.at(-1)!), { type: 'workflow-ended', workflowId, status: 'finished' });
});

t.test("lzy status --all-tenants lists every tenant's runs with their tenant for an admin, a page at a time, and refuses a tenant", async (t) => {
  // A server of its own: each tenant's op needs a node of its own, and the pool holds two.
  const shared = await startServer(t);
  const admin = { LZY_ENDPOINT: shared.url, LZY_TOKEN: shared.adminToken };
  const tokens: Record<string, string> = {};
  for (const tenant of ['alpha', 'beta']) {
    tokens[tenant] = await tenantToken(shared, tenant);
    const run = await lzy(['run', fixture('chain-program')], { LZY_ENDPOINT: shared.url, LZY_TOKEN: tokens[tenant], LZY_TEST_DIR: tempDir(t) });
    t.equal(run.code, 0, run.stderr);
  }
  const listed = await lzy(['status', '--all-tenants', '--json'], admin);
  t.equal(listed.code, 0, listed.stderr);
  const all = JSON.parse(listed.lines.at(-1)!) as Array<{ workflowId: string; tenant: string; name: string }>;
  t.match(all, [{ tenant: 'alpha', name: 'chain' }, { tenant: 'beta', name: 'chain' }], "both tenants' runs, the newest printed last");
  const [alphaRun, betaRun] = all.map((run) => run.workflowId) as [string, string];

  const table = await lzy(['status', '--all-tenants'], admin);
  t.match(table.stdout, /^TENANT\s+WORKFLOW\s+NAME\s+STATUS/m, 'the table has a tenant column');
  t.match(table.stdout, new RegExp(`^alpha\\s+${alphaRun}\\s+chain\\s+finished\\s[^]*^beta\\s+${betaRun}\\s+chain\\s+finished\\s`, 'm'));

  const newest = await lzy(['status', '--all-tenants', '--limit', '1'], admin);
  t.match(newest.stdout, new RegExp(`^beta\\s+${betaRun}\\s`, 'm'), 'a page of one is the newest run of any tenant');
  t.notOk(newest.stdout.includes(alphaRun));
  t.match(newest.stdout, /^1 older run not listed: `lzy status --all-tenants --skip 1` lists the next ones$/m);
  const next = await lzy(['status', '--all-tenants', '--limit', '1', '--skip', '1'], admin);
  t.match(next.stdout, new RegExp(`^alpha\\s+${alphaRun}\\s`, 'm'), "the next page is the run before it, another tenant's");

  const refused = await lzy(['status', '--all-tenants'], { LZY_ENDPOINT: shared.url, LZY_TOKEN: tokens['alpha']! });
  t.equal(refused.code, 1, 'a tenant may not list every tenant');
  t.match(refused.stderr, /^lzy: error: only an admin lists every tenant's runs: /m);
  t.notOk(refused.stdout.includes(betaRun), "and sees nothing of another tenant's");
});
