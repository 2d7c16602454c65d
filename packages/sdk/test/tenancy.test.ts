import t from 'tap';
import { Runtime } from '@lzy/runtime';
import { Lzy } from '../src/index.js';
import { whereAmI } from './fixtures/ops.js';
import { tempDir } from './harness.js';

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

t.test("a tenant cannot see or touch another tenant's workflow", async (t) => {
  const runtime = await Runtime.start({ dataDir: tempDir(t) });
  t.teardown(() => runtime.close());
  const alice = runtime.connect(await runtime.iam.issueToken('alice'));
  const bob = runtime.connect(await runtime.iam.issueToken('bob'));
  const workflowId = await alice.startWorkflow('private', () => {});
  await t.rejects(bob.cancel(workflowId, 'mischief'), { code: 'NOT_FOUND' });
  t.same(
    (await bob.list()).map((w) => w.workflowId),
    [],
  );
  t.same(
    (await alice.list()).map((w) => w.workflowId),
    [workflowId],
  );
  t.throws(() => runtime.connect('lzy_forged-token'), /unknown token/);
});
