import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { LmdbJournal } from '@lzy/actors';
import { open } from 'lmdb';
import { Runtime, type RuntimeConnection } from '../src/index.js';
import { MAX_LIST_RUNS } from '../src/protocol/index.js';
import { KEEP_ENDED_MAX } from '../src/workflow/workflows.js';
import { tempDir, waitUntil } from './harness.js';

const RUNS = MAX_LIST_RUNS + 200;

/** Runs `count` workflows without ops, 64 at a time; resolves with their ids in the order they started. */
async function runMany(client: RuntimeConnection, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let started = 0; started < count; started += 64) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(64, count - started) }, async (_, i) => {
        const workflowId = await client.startWorkflow(`run-${started + i}`, () => {});
        await client.finish(workflowId);
        return workflowId;
      }),
    );
    ids.push(...batch);
  }
  return ids;
}

t.test('after many finished runs, listing pages newest first with a count of the older ones, and ended runs leave memory', async (t) => {
  const dataDir = tempDir(t);
  let runtime = await Runtime.start({ dataDir });
  t.teardown(() => runtime.close());
  const token = await runtime.iam.issueToken('team');
  const ids = await runMany(runtime.connect(token), RUNS);
  t.ok((await runtime.runsInMemory()) <= KEEP_ENDED_MAX, 'however fast runs end, memory holds a bounded number of them');
  const other = runtime.connect(await runtime.iam.issueToken('other'));
  await other.finish(await other.startWorkflow('not-teams', () => {}));

  // The ended runs leave memory on their timer; only the index on disk holds them then.
  await waitUntil(async () => (await runtime.runsInMemory()) === 0, 'the ended runs to leave memory', 60_000);

  const client = runtime.connect(token);
  const first = await client.list();
  t.equal(first.runs.length, MAX_LIST_RUNS, 'one page holds at most MAX_LIST_RUNS runs');
  t.equal(first.more, RUNS - MAX_LIST_RUNS, 'and counts the older runs it left out');
  const newestFirst = [...first.runs].sort((a, b) => b.startedAt - a.startedAt);
  t.same(first.runs.map((run) => run.startedAt), newestFirst.map((run) => run.startedAt), 'newest first');
  t.ok(first.runs.every((run) => run.status === 'finished' && run.endedAt !== undefined), 'each listed as finished');
  const rest = await client.list(first.runs.length, MAX_LIST_RUNS);
  t.equal(rest.more, 0);
  t.same(new Set([...first.runs, ...rest.runs].map((run) => run.workflowId)), new Set(ids), "the two pages hold every one of the tenant's runs, once");
  t.same((await client.list(0, 5)).runs.length, 5, 'a smaller page when asked');
  t.equal((await runtime.runsInMemory()), 0, 'listing loads no run into memory');

  // An old run is still found, and is held only while it is asked for.
  const oldest = ids[0]!;
  t.match((await client.describe(oldest, 0, 10)).run, { workflowId: oldest, status: 'finished' }, 'an ended run is described from disk');
  t.equal(await runtime.runsInMemory(), 1, 'the run asked for is held again, alone');

  await runtime.close();
  runtime = await Runtime.start({ dataDir });
  t.equal(await runtime.runsInMemory(), 0, 'a restart loads none of the ended runs');
  const again = runtime.connect(token);
  const afterRestart = await again.list(0, 10);
  t.same(afterRestart.runs.map((run) => run.workflowId), first.runs.slice(0, 10).map((run) => run.workflowId), 'the same runs are listed after a restart');
  t.equal(afterRestart.more, RUNS - 10);

  const fresh = await again.startWorkflow('fresh', () => {});
  t.match((await again.list(0, 1)).runs, [{ workflowId: fresh, status: 'active' }], 'a run is listed as soon as its start is answered');
  await again.finish(fresh);
  t.match((await again.list(0, 1)).runs, [{ workflowId: fresh, status: 'finished' }], 'and as finished as soon as its finish is');
});

t.test('runs that an earlier version journaled as the registry\'s events are listed after an upgrade, carried over once', async (t) => {
  const dataDir = tempDir(t);
  const legacy = LmdbJournal.open(join(dataDir, 'state'));
  const events = [
    { type: 'started', workflowId: 'wf-old-1', tenant: 'team', name: 'first', startedAt: 1_000 },
    { type: 'started', workflowId: 'wf-old-2', tenant: 'team', name: 'second', startedAt: 2_000 },
    { type: 'ended', workflowId: 'wf-old-1', status: 'finished', endedAt: 1_500 },
    { type: 'ended', workflowId: 'wf-old-2', status: 'failed', endedAt: 2_500 },
  ];
  for (const [i, data] of events.entries()) {
    await legacy.persist({ key: 'workflows', sequenceNumber: i + 1, data, tags: [], createdAt: 0, isDeleted: false });
  }
  await legacy.close();

  const expected = [
    { workflowId: 'wf-old-2', name: 'second', status: 'failed', startedAt: 2_000, endedAt: 2_500 },
    { workflowId: 'wf-old-1', name: 'first', status: 'finished', startedAt: 1_000, endedAt: 1_500 },
  ];
  for (const start of ['the first start', 'a second start']) {
    const runtime = await Runtime.start({ dataDir });
    const client = runtime.connect(await runtime.iam.issueToken('team'));
    t.same(await client.list(), { runs: expected, more: 0 }, `${start} lists the old runs, once each`);
    await runtime.close();
  }
  const journal = LmdbJournal.open(join(dataDir, 'state'));
  t.same(journal.events('workflows'), [], 'the old events are gone from the journal');
  await journal.close();
});

t.test("an admin lists every tenant's runs in one listing, newest first, each with its tenant, paged across tenants; a tenant may not", async (t) => {
  const runtime = await Runtime.start({ dataDir: tempDir(t) });
  t.teardown(() => runtime.close());
  const alpha = runtime.connect(await runtime.iam.issueToken('alpha'));
  const beta = runtime.connect(await runtime.iam.issueToken('beta'));
  const admin = runtime.connect(await runtime.iam.issueToken('ops', 'admin'));
  const started: Array<{ workflowId: string; tenant: string }> = [];
  for (const [i, client] of [alpha, beta, alpha, beta, alpha].entries()) {
    const workflowId = await client.startWorkflow(`run-${i}`, () => {});
    if (i < 4) await client.finish(workflowId);
    started.push({ workflowId, tenant: client.tenant });
  }
  const newestFirst = started.reverse();

  const all = await admin.listAllTenants();
  t.same(all.runs.map(({ workflowId, tenant }) => ({ workflowId, tenant })), newestFirst, "every tenant's runs, newest first, each with its tenant");
  t.match(all.runs[0], { name: 'run-4', status: 'active' }, 'the active run too, as it is now');
  t.equal(all.more, 0);
  const first = await admin.listAllTenants(0, 2);
  t.same(first.runs.map((run) => run.workflowId), newestFirst.slice(0, 2).map((run) => run.workflowId));
  t.equal(first.more, 3, 'a page counts the older runs of every tenant it left out');
  const next = await admin.listAllTenants(2, 2);
  t.same(next.runs.map((run) => run.workflowId), newestFirst.slice(2, 4).map((run) => run.workflowId), 'the next page goes on across tenants');
  t.equal(next.more, 1);
  t.same((await alpha.list()).runs.map((run) => run.tenant), [undefined, undefined, undefined], "a tenant's own listing is as it was");

  await t.rejects(alpha.listAllTenants(), { code: 'FORBIDDEN', message: /only an admin lists every tenant's runs/ }, 'a tenant may not list every tenant');
});

t.test("runs an earlier version indexed by tenant only are listed across tenants after an upgrade", async (t) => {
  const dataDir = tempDir(t);
  // The layout of the last release: the runs, by tenant, and a count per tenant; nothing by start.
  const legacy = open({ path: join(dataDir, 'state'), maxDbs: 32 });
  const old = [
    { workflowId: 'wf-a1', tenant: 'alpha', name: 'a1', startedAt: 1_000, status: 'finished', endedAt: 1_100 },
    { workflowId: 'wf-b1', tenant: 'beta', name: 'b1', startedAt: 2_000, status: 'failed', endedAt: 2_100 },
    { workflowId: 'wf-a2', tenant: 'alpha', name: 'a2', startedAt: 3_000, status: 'finished', endedAt: 3_100 },
  ] as const;
  const runs = legacy.openDB({ name: 'runs' });
  const byTenant = legacy.openDB({ name: 'runs.by-tenant' });
  const counts = legacy.openDB({ name: 'runs.count' });
  for (const { workflowId, ...run } of old) {
    await runs.put(workflowId, run);
    await byTenant.put([run.tenant, run.startedAt, workflowId], true);
  }
  await counts.put('alpha', 2);
  await counts.put('beta', 1);
  await legacy.close();

  for (const start of ['the first start', 'a second start']) {
    const runtime = await Runtime.start({ dataDir });
    const admin = runtime.connect(await runtime.iam.issueToken('ops', 'admin'));
    const page = await admin.listAllTenants(0, 2);
    t.same(page.runs.map((run) => [run.workflowId, run.tenant]), [['wf-a2', 'alpha'], ['wf-b1', 'beta']], `${start} lists the old runs of every tenant, newest first`);
    t.equal(page.more, 1, 'and counts them all');
    await runtime.close();
  }
});

/** Whether run `workflowId`'s start is on disk in `dataDir`, read by another process (as a restart would find it). */
function startOnDisk(dataDir: string, workflowId: string): boolean {
  const read = `import { open } from 'lmdb';
const root = open({ path: process.argv[1], readOnly: true });
process.stdout.write(root.openDB({ name: 'runs' }).get(process.argv[2]) ? 'yes' : 'no');`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', read, join(dataDir, 'state'), workflowId], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`could not read the run index: ${child.stderr}`);
  return child.stdout === 'yes';
}

t.test('a run that has not submitted an op yet is listed at once, and its start reaches the disk without one', async (t) => {
  const dataDir = tempDir(t);
  const runtime = await Runtime.start({ dataDir });
  t.teardown(() => runtime.close());
  const client = runtime.connect(await runtime.iam.issueToken('team'));
  const workflowId = await client.startWorkflow('thinking', () => {});
  const page = await client.list();
  t.match(page.runs, [{ workflowId, status: 'active' }], 'listed as active the moment it started');
  t.equal(page.more, 0);
  // Its start goes with its first ops when they come; a run that takes its time gets it written anyway.
  await waitUntil(() => startOnDisk(dataDir, workflowId), 'the start of a run without ops to reach the disk', 30_000);
});

t.test('a run started an instant before the runtime closes is resumed, as active, by the next start', async (t) => {
  const dataDir = tempDir(t);
  let runtime = await Runtime.start({ dataDir });
  t.teardown(() => runtime.close());
  const client = runtime.connect(await runtime.iam.issueToken('team'));
  const workflowId = await client.startWorkflow('cut-short', () => {});
  await runtime.close();
  runtime = await Runtime.start({ dataDir });
  const again = runtime.connect(await runtime.iam.issueToken('team'));
  t.match((await again.list()).runs, [{ workflowId, status: 'active' }], 'listed as active after the restart');
});
