import t from 'tap';
import { Runtime } from '@lzy/runtime';
import { Lzy, RemoteConnection } from '../src/index.js';
import { flaky, inc } from './fixtures/ops.js';
import { tempDir } from './harness.js';

t.test('lzy.status(run) tells where each attempt’s time went and the run’s critical path, and keeps them across a restart', async (t) => {
  const dataDir = tempDir(t);
  const dir = tempDir(t);
  let runtime = await Runtime.start({ dataDir });
  const token = await runtime.iam.issueToken('alice');
  let lzy = await Lzy.connect({ endpoint: runtime.url, token, onLog: () => {} });
  let workflowId = '';
  await lzy.workflow('timed', async (wf) => {
    workflowId = wf.id;
    await flaky(dir);
    return await inc(inc(inc(0)));
  });

  const status = await lzy.status(workflowId);
  t.equal(status.run.status, 'finished');
  const names = (ids: string[]) => ids.map((id) => status.ops.find((op) => op.opId === id)!.name);
  t.same(names(status.criticalPath), ['flaky', 'inc', 'inc', 'inc'], 'the chain of incs ended last, after the op the workflow awaited before calling it');
  const retried = status.ops.find((op) => op.name === 'flaky')!;
  t.same(
    retried.timings!.map(({ attempt, ok }) => ({ attempt, ok })),
    [
      { attempt: 1, ok: false },
      { attempt: 2, ok: true },
    ],
    'each attempt of a retried op has its own timings',
  );
  for (const op of status.ops) {
    for (const timing of op.timings!) t.ok(timing.nodeId && timing.runMs > 0, `${op.name} attempt ${timing.attempt} ran on a node`);
    t.type(op.commitMs, 'number', `${op.name}'s commit was measured`);
  }
  const before = status.ops.map(({ opId, timings, commitMs }) => ({ opId, timings, commitMs }));

  await lzy.close();
  await runtime.close();
  runtime = await Runtime.start({ dataDir });
  t.teardown(() => runtime.close());
  lzy = Lzy.over(await RemoteConnection.open({ endpoint: runtime.url, token }));
  t.teardown(() => lzy.close());
  const after = await lzy.status(workflowId);
  t.same(
    after.ops.map(({ opId, timings, commitMs }) => ({ opId, timings, commitMs })),
    before,
    'the timings and commit times were journaled',
  );
  t.same(after.criticalPath, status.criticalPath);
});
