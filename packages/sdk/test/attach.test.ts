import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Runtime, type WorkflowEvent } from '@lzy/runtime';
import { Lzy, OpError } from '../src/index.js';
import { fails, gatedValue, inc } from './fixtures/ops.js';
import { tempDir, waitUntil } from './harness.js';

/** What a watcher heard of a run, in a form two watchers can be compared by. */
function heard(events: WorkflowEvent[]): string[] {
  return events.flatMap((event) => {
    switch (event.type) {
      case 'op-succeeded':
        return [`succeeded ${event.opId}`];
      case 'op-log':
        return [`log ${event.text.trim()}`];
      case 'workflow-ended':
        return [`ended ${event.status}`];
      default:
        return [];
    }
  });
}

t.test('clients attached to one running workflow each get every event and its result; one that disconnects disturbs no other', async (t) => {
  const dir = tempDir(t);
  const runtime = await Runtime.start({ dataDir: tempDir(t) });
  t.teardown(() => runtime.close());
  const token = await runtime.iam.issueToken('alice');
  const connect = () => Lzy.connect({ endpoint: runtime.url, token, onLog: () => {} });
  const [starter, first, second, leaving] = await Promise.all([connect(), connect(), connect(), connect()]);
  t.teardown(() => Promise.all([starter, first, second, leaving].map((client) => client.close())));

  let workflowId = '';
  const started = starter.workflow('attached', async (wf) => {
    workflowId = wf.id;
    return { total: await inc(gatedValue(dir, 'gate', 41)) };
  });
  await waitUntil(() => existsSync(join(dir, 'gate.started')), 'the gated op to start');

  const events: Record<'first' | 'second' | 'leaving', WorkflowEvent[]> = { first: [], second: [], leaving: [] };
  const firstResult = first.attach<{ total: number }>(workflowId, { onEvent: (event) => events.first.push(event) });
  const secondResult = second.attach<{ total: number }>(workflowId, { onEvent: (event) => events.second.push(event) });
  const leavingResult = leaving.attach(workflowId, { onEvent: (event) => events.leaving.push(event) });
  leavingResult.catch(() => {});
  await waitUntil(() => Object.values(events).every((list) => list.some((event) => event.type === 'progress')), 'each client to be attached');

  await leaving.close();
  writeFileSync(join(dir, 'gate.go'), '');
  t.same(await started, { total: 42 }, 'the run itself goes on');
  t.same(await firstResult, { total: 42 });
  t.same(await secondResult, { total: 42 });
  t.same(heard(events.first), heard(events.second), 'both heard the same events');
  t.match(heard(events.first), ['log gate opened', /^succeeded /, /^succeeded /, 'ended finished']);
  t.notOk(
    events.leaving.some((event) => event.type === 'workflow-ended' && event.status === 'finished'),
    'the client that left heard nothing after it closed',
  );

  const late = await connect();
  t.teardown(() => late.close());
  t.same(await late.attach(workflowId), { total: 42 }, 'attaching to a finished run gives its result at once');
});

t.test("attaching to a run that failed rejects with its op's error; to another tenant's run, NOT_FOUND", async (t) => {
  const runtime = await Runtime.start({ dataDir: tempDir(t) });
  t.teardown(() => runtime.close());
  const alice = await Lzy.connect({ endpoint: runtime.url, token: await runtime.iam.issueToken('alice'), onLog: () => {} });
  const bob = await Lzy.connect({ endpoint: runtime.url, token: await runtime.iam.issueToken('bob'), onLog: () => {} });
  t.teardown(() => Promise.all([alice.close(), bob.close()]));
  let workflowId = '';
  await t.rejects(
    alice.workflow('failing', async (wf) => {
      workflowId = wf.id;
      return await fails('no luck');
    }),
    OpError,
  );
  await t.rejects(alice.attach(workflowId), { name: 'OpError', message: /no luck/ });
  await t.rejects(bob.attach(workflowId), { code: 'NOT_FOUND' });
});
