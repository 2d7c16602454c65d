import t from 'tap';
import { spawnActor, startActorSystem, tell } from '@lzy/actors';
import { blobUri, storedRef, type RunAttempt } from '@lzy/node-agent/protocol';
import type { NodePrincipal } from '../src/allocator/node-directory.js';
import { spawnScheduler } from '../src/scheduler/scheduler.js';
import { AttemptGrants } from '../src/storage/attempt-grants.js';
import { waitUntil } from './harness.js';

t.test("a node's storage grants end when its attempt is cancelled and when the node is lost", async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  // One recorder plays the agent, the op, the logs, the graph and the allocator.
  const seen: { type: string }[] = [];
  const recorder = spawnActor<undefined, { type: string }>(system, {
    name: 'recorder',
    initialState: () => undefined,
    receive: (state, msg) => {
      seen.push(msg);
      return state;
    },
  });
  const grants = new AttemptGrants();
  const scheduler = spawnScheduler(system, {
    allocator: () => recorder as never,
    pools: new Map([['default', { name: 'default', cpu: 1, memoryMb: 1024, slots: 2, maxNodes: 1, idleTimeoutMs: 60_000 }]]),
    grants,
  });
  const node: NodePrincipal = { kind: 'node', nodeId: 'n1', tenant: 'alice', pool: 'default', joined: false };
  tell(scheduler, { type: 'node-up', node: { nodeId: 'n1', tenant: 'alice', pool: 'default', slots: 2, agent: recorder as never } });
  /** The stored input of attempt `a<n>`. */
  const input = (attemptId: 'a1' | 'a2') => storedRef(attemptId.slice(1).repeat(64), 1);
  const bundle = { uri: blobUri('b'.repeat(64)), hash: 'b'.repeat(64), size: 1 };
  const enqueue = (attemptId: 'a1' | 'a2') => {
    const run: RunAttempt = { attemptId, tenant: 'alice', opName: 'op', module: 'file:///x.js', exportName: 'x', args: [input(attemptId)], env: {}, bundle };
    tell(scheduler, {
      type: 'enqueue',
      attempts: [{ attemptId, tenant: 'alice', workflowId: 'w', pool: 'default', run, op: recorder as never, logs: recorder as never, graph: recorder as never, opId: attemptId, opName: 'op' }],
    });
  };
  /** Whether `check` lets the request through. */
  const passes = (check: () => void) => {
    try {
      check();
      return true;
    } catch {
      return false;
    }
  };
  const mayRead = (uri: string) => passes(() => grants.checkRead(node, uri));
  const mayWrite = (attemptId: string) => passes(() => grants.checkWrite(node, attemptId));
  const runs = () => seen.filter((msg) => msg.type === 'run').length;

  enqueue('a1');
  enqueue('a2');
  await waitUntil(() => runs() > 0, 'a1 and a2 to be given to n1');
  t.ok(mayRead(input('a1').uri) && mayRead(input('a2').uri) && mayWrite('a1') && mayWrite('a2'), 'n1 reads the inputs of both and writes as both');
  t.ok(mayRead(bundle.uri), 'and reads the bundle they share');

  tell(scheduler, { type: 'cancel', attemptId: 'a1' });
  await waitUntil(() => seen.some((msg) => msg.type === 'cancel'), 'n1 to hear a1 cancelled');
  t.notOk(mayRead(input('a1').uri) || mayWrite('a1'), 'a cancelled attempt grants nothing');
  t.ok(mayRead(input('a2').uri) && mayWrite('a2') && mayRead(bundle.uri), 'the attempt still running keeps its grant, and the bundle');

  tell(scheduler, { type: 'node-gone', nodeId: 'n1', reason: 'lost' });
  await waitUntil(() => seen.some((msg) => msg.type === 'attempt-ended'), 'a2 to fail with its node');
  t.notOk(mayRead(input('a2').uri) || mayWrite('a2') || mayRead(bundle.uri), 'a lost node keeps no grant');
});
