import t from 'tap';
import { spawnActor, startActorSystem, tell, type ActorRef } from '@lzy/actors';
import type { AgentMsg, RunAttempt } from '@lzy/node-agent/protocol';
import { spawnScheduler, type AllocatorRequest, type AttemptRequest } from '../src/scheduler/scheduler.js';
import { AttemptGrants } from '../src/storage/attempt-grants.js';
import { waitUntil } from './harness.js';

function recorder<T>(system: ReturnType<typeof startActorSystem>, name: string) {
  const seen: T[] = [];
  const ref = spawnActor<undefined, T>(system, {
    name,
    initialState: () => undefined,
    receive: (state, msg) => {
      seen.push(msg);
      return state;
    },
  });
  return { ref, seen };
}

t.test('the scheduler shares a tenant\'s slots fairly between its workflows', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const agent = recorder<AgentMsg>(system, 'agent');
  const allocator = recorder<AllocatorRequest>(system, 'allocator');
  const outcomes = recorder<unknown>(system, 'ops');
  const graphs = recorder<unknown>(system, 'graphs');
  const scheduler = spawnScheduler(system, {
    allocator: () => allocator.ref as ActorRef<AllocatorRequest>,
    pools: new Map([['default', { name: 'default', cpu: 1, memoryMb: 1024, slots: 1, maxNodes: 1, idleTimeoutMs: 60_000 }]]),
    grants: new AttemptGrants(),
  });
  const attempt = (workflowId: string, i: number): AttemptRequest => {
    const attemptId = `${workflowId}-${i}`;
    const run: RunAttempt = { attemptId, tenant: 'alice', opName: 'op', module: 'file:///x.js', exportName: 'x', args: [], env: {} };
    return {
      attemptId,
      tenant: 'alice',
      workflowId,
      pool: 'default',
      run,
      op: outcomes.ref as never,
      logs: outcomes.ref as never,
      graph: graphs.ref as never,
      opId: attemptId,
      opName: 'op',
    };
  };
  // A busy workflow queues 20 attempts before a small one queues 2.
  for (let i = 0; i < 20; i++) tell(scheduler, { type: 'enqueue', attempts: [attempt('busy', i)] });
  for (let i = 0; i < 2; i++) tell(scheduler, { type: 'enqueue', attempts: [attempt('small', i)] });
  await waitUntil(() => allocator.seen.length > 0, 'the scheduler to ask for a node');
  t.same(allocator.seen[0], { type: 'lease', tenant: 'alice', pool: 'default' });
  t.equal(allocator.seen.length, 1, 'one node asked for: the pool has room for one');

  tell(scheduler, { type: 'node-up', node: { nodeId: 'n1', tenant: 'alice', pool: 'default', slots: 1, agent: agent.ref as ActorRef<AgentMsg> } });
  // Finish each attempt as it is handed out; the slot goes to the next in line.
  const order: string[] = [];
  const dispatched = () => agent.seen.flatMap((msg) => (msg.type === 'run' ? msg.attempts : []));
  while (order.length < 22) {
    await waitUntil(() => dispatched().length > order.length, `attempt ${order.length + 1} to be dispatched`);
    const run = dispatched()[order.length]!;
    order.push(run.attemptId);
    const result = { uri: 'blob:x', size: 0, hash: '0'.repeat(64), codec: 'msgpack' as const };
    tell(scheduler, { type: 'report', nodeId: 'n1', logs: [], finished: [{ attemptId: run.attemptId, outcome: { ok: true, result } }] });
  }
  const smallAt = order.flatMap((id, index) => (id.startsWith('small') ? [index] : []));
  t.ok(smallAt[1]! <= 4, `the small workflow's attempts ran early, at ${smallAt.join(', ')}, not after the 20 busy ones`);
  t.same(
    order.filter((id) => id.startsWith('busy')),
    Array.from({ length: 20 }, (_, i) => `busy-${i}`),
    'each workflow\'s attempts keep their order',
  );
  await waitUntil(() => outcomes.seen.length === 22, 'every op to hear its outcome');
});

t.test('an agent cannot report an attempt it was not given, whether its node serves the same tenant or another', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  // One recorder plays the agents and the op, so what the scheduler sends arrives in order.
  const seen = recorder<{ type: string; attemptId?: string; opId?: string; attempts?: RunAttempt[] }>(system, 'agents-and-op');
  const allocator = recorder<AllocatorRequest>(system, 'allocator');
  const graphs = recorder<unknown>(system, 'graphs');
  const scheduler = spawnScheduler(system, {
    allocator: () => allocator.ref as ActorRef<AllocatorRequest>,
    pools: new Map([['default', { name: 'default', cpu: 1, memoryMb: 1024, slots: 1, maxNodes: 2, idleTimeoutMs: 60_000 }]]),
    grants: new AttemptGrants(),
  });
  const nodeUp = (nodeId: string, tenant: string) =>
    tell(scheduler, { type: 'node-up', node: { nodeId, tenant, pool: 'default', slots: 1, agent: seen.ref as never } });
  nodeUp('n1', 'alice');
  const enqueue = (attemptId: string) => {
    const run: RunAttempt = { attemptId, tenant: 'alice', opName: 'op', module: 'file:///x.js', exportName: 'x', args: [], env: {} };
    tell(scheduler, {
      type: 'enqueue',
      attempts: [{ attemptId, tenant: 'alice', workflowId: 'w', pool: 'default', run, op: seen.ref as never, logs: seen.ref as never, graph: graphs.ref as never, opId: attemptId, opName: 'op' }],
    });
  };
  const result = { uri: 'blob:x', size: 0, hash: '0'.repeat(64), codec: 'msgpack' as const };
  enqueue('a1');
  await waitUntil(() => seen.seen.length === 1, 'a1 to be dispatched to n1');
  // Two other registered nodes, one of alice's and one of bob's, report a1 (and log for it). Then
  // n1 logs a line for a1: the scheduler forwards it only while a1 still runs, so the log shows,
  // in order, that the reports of the nodes that were not given a1 were ignored.
  nodeUp('n2', 'alice');
  nodeUp('n3', 'bob');
  const finished = [{ attemptId: 'a1', outcome: { ok: true as const, result } }];
  for (const intruder of ['n2', 'n3']) {
    tell(scheduler, { type: 'report', nodeId: intruder, logs: [{ attemptId: 'a1', stream: 'stdout', text: `forged by ${intruder}` }], finished });
  }
  tell(scheduler, { type: 'report', nodeId: 'n1', logs: [{ attemptId: 'a1', stream: 'stdout', text: 'still running' }], finished: [] });
  tell(scheduler, { type: 'report', nodeId: 'n1', logs: [], finished });
  tell(scheduler, { type: 'report', nodeId: 'n1', logs: [], finished });
  enqueue('a2');
  await waitUntil(() => seen.seen.length === 4, 'the log and outcome of a1, then the dispatch of a2');
  t.same(
    seen.seen.map((m) => `${m.type} ${m.attempts?.map((a) => a.attemptId).join(',') ?? m.attemptId ?? m.opId}`),
    ['run a1', 'op-log a1', 'attempt-ended a1', 'run a2'],
    'a1 ended once, on the report of the node that ran it',
  );
  t.match(seen.seen[1], { type: 'op-log', text: 'still running' }, "only n1's log line of a1 was passed on");
});
