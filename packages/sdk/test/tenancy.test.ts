import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { encodeValue, refFor, type StoredRef } from '@lzy/node-agent/protocol';
import { Runtime, type OpSpec, type RuntimeConnection, type WorkflowEvent } from '@lzy/runtime';
import { Lzy, readWhiteboards, RemoteConnection } from '../src/index.js';
import { gated, inc, whereAmI } from './fixtures/ops.js';
import { tempDir, waitUntil } from './harness.js';

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

t.test('two tenants never get the same node, across many interleaved workflows', async (t) => {
  const runtime = await Runtime.start({
    dataDir: tempDir(t),
    pools: [{ name: 'default', cpu: 2, memoryMb: 2048, slots: 2, maxNodes: 4, idleTimeoutMs: 200 }],
  });
  t.teardown(() => runtime.close());
  const alice = Lzy.over(runtime.connect(await runtime.iam.issueToken('alice')), { onLog: () => {} });
  const bob = Lzy.over(runtime.connect(await runtime.iam.issueToken('bob')), { onLog: () => {} });
  t.equal(alice.tenant, 'alice');
  t.equal(bob.tenant, 'bob');

  const seen = { alice: new Set<number>(), bob: new Set<number>() };
  const runs: Array<Promise<void>> = [];
  for (let i = 0; i < 12; i++) {
    for (const [name, client] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      runs.push(
        client
          .workflow(`${name}-${i}`, async () => Promise.all([whereAmI(`${name}-${i}-a`), whereAmI(`${name}-${i}-b`)]))
          .then((results) => results.forEach((r) => seen[name].add(r.agentPid))),
      );
    }
  }
  await Promise.all(runs);
  t.ok(seen.alice.size > 0 && seen.bob.size > 0, `alice used ${seen.alice.size} node(s), bob ${seen.bob.size}`);
  const shared = [...seen.alice].filter((pid) => seen.bob.has(pid));
  t.same(shared, [], 'no node served both tenants');
});

/** What a tenant has while its run is active: the run, a blob, the place its gated op waits on. */
interface Victim {
  readonly workflowId: string;
  readonly blob: StoredRef;
  readonly dir: string;
}

/**
 * `intruder`, another tenant, tries every call a client can make on the victim's run and data;
 * each is refused as if the run did not exist. Returns what the intruder's watch of the run hears,
 * which must stay empty.
 */
async function intrude(t: Test, intruder: RuntimeConnection, victim: Victim): Promise<WorkflowEvent[]> {
  const { workflowId } = victim;
  const notFound = { code: 'NOT_FOUND' };
  const value = (v: unknown) => ({ kind: 'value' as const, ref: refFor(encodeValue(v)) });
  t.notOk((await intruder.list()).runs.some((run) => run.workflowId === workflowId), `${intruder.tenant} does not list the run`);
  const heard: WorkflowEvent[] = [];
  intruder.watch(workflowId, (event) => heard.push(event));
  // An op that leaves a file behind if it ever runs in the victim's graph.
  const op: OpSpec = {
    id: 'intruder',
    name: 'counted',
    module: new URL('./fixtures/ops.js', import.meta.url).href,
    exportName: 'counted',
    args: [value(victim.dir), value(1)],
    retries: { max: 0, backoffMs: 0 },
    env: {},
  };
  await t.rejects(intruder.submit(workflowId, [op]), notFound, 'submit');
  const field = { whiteboardId: 'intruder', name: 'secret', tags: [], createdAt: 0, field: 'intruder', value: value(1) };
  await t.rejects(intruder.assign(workflowId, [field]), notFound, 'assign');
  await t.rejects(intruder.logs(workflowId, 0, 100, 0), notFound, 'logs');
  await t.rejects(intruder.cancel(workflowId, 'mischief'), notFound, 'cancel');
  await t.rejects(intruder.finish(workflowId), notFound, 'finish');
  await t.rejects(intruder.getBlob(victim.blob), "the victim's blob");
  return heard;
}

// A break that lets another tenant's call through can leave alice's run waiting for good: the
// timeout makes that a failure within minutes, not at the end of the whole file's time.
t.test("another tenant can neither see nor touch a tenant's active run, over the embedded connection or the gateway", { timeout: 120_000 }, async (t) => {
  const runtime = await Runtime.start({
    dataDir: tempDir(t),
    pools: [{ name: 'default', cpu: 2, memoryMb: 2048, slots: 2, maxNodes: 2, idleTimeoutMs: 60_000 }],
  });
  t.teardown(() => runtime.close());
  const alice = runtime.connect(await runtime.iam.issueToken('alice'));
  const bobToken = await runtime.iam.issueToken('bob');
  const embedded = runtime.connect(bobToken);
  const remote = await RemoteConnection.open({ endpoint: runtime.url, token: bobToken });
  t.teardown(() => remote.close());

  const dir = tempDir(t);
  const bytes = Buffer.from('alice only');
  const blob = await alice.putBlob('wf-alice', bytes);
  t.same(await alice.getBlob(blob), bytes, 'alice reads her blob');
  let workflowId = '';
  const run = Lzy.over(alice, { onLog: () => {} }).workflow('private', async (wf) => {
    workflowId = wf.id;
    const board = wf.whiteboard('secret', { tags: ['alice'] });
    board.note = 'alice only';
    const waited = await gated(dir, 'b', 1);
    // Submitted after the intruders are done: a run that another tenant finished or cancelled takes no more.
    const result = inc(waited);
    board.result = result;
    return await result;
  });
  await waitUntil(
    async () => workflowId && (await alice.logs(workflowId, 0, 100, 0)).entries.some((entry) => entry.text.includes('b waits')),
    'alice\'s gated op to run',
  );

  const heard = [await intrude(t, embedded, { workflowId, blob, dir }), await intrude(t, remote, { workflowId, blob, dir })];
  t.match((await alice.list()).runs, [{ workflowId, status: 'active' }], "alice's run is still active");
  t.match((await alice.logs(workflowId, 0, 100, 0)).entries, [{ text: /b waits/ }], 'alice reads her logs');

  writeFileSync(join(dir, 'b.go'), '');
  t.equal(await run, 3, 'alice gets her result');
  t.match((await alice.list()).runs, [{ workflowId, status: 'finished' }]);
  t.notOk(existsSync(join(dir, 'counted.count')), "no op of another tenant ran in alice's run");
  const [board, ...others] = await readWhiteboards(alice, {});
  t.same(others, [], 'alice has one whiteboard: her own');
  t.same(board?.fields, { note: 'alice only', result: 3 }, "alice's whiteboard has her fields only");
  for (const intruder of [embedded, remote]) {
    t.same(await intruder.whiteboards({}), [], `${intruder.tenant} finds no whiteboard`);
    t.notOk((await intruder.list()).runs.some((listed) => listed.workflowId === workflowId), `${intruder.tenant} still does not list the run`);
  }
  // Watching it ends at once with the answer a missing run gets, and nothing of the run.
  t.same(
    heard.flat().map((event) => event.type === 'workflow-ended' && event.status === 'failed' && /no workflow /.test(event.reason ?? '')),
    heard.flat().map(() => true),
    'watching the run told the other tenant only that there is no such run',
  );
  t.ok(heard.flat().length > 0, 'the watch was refused');
  t.throws(() => runtime.connect('lzy_forged-token'), /unknown token/);
});
