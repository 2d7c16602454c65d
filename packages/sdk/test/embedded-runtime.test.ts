import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Lzy, OpDefinitionError, OpError, WorkflowCancelledError } from '../src/index.js';
import {
  add,
  double,
  exits,
  eatsMemory,
  fails,
  flaky,
  hangs,
  inc,
  meetAt,
  spins,
  square,
  survivesNodeLoss,
  throwsLater,
  whereAmI,
} from './fixtures/ops.js';
import { callHidden } from './fixtures/hidden.js';
import { alive, tempDir, waitUntil } from './harness.js';

type Test = { teardown(fn: () => unknown): void };

async function start(t: Test, pool: { slots?: number; maxNodes?: number; idleTimeoutMs?: number } = {}) {
  const lzy = await Lzy.start({
    dataDir: tempDir(t),
    pools: [{ name: 'default', cpu: 2, memoryMb: 2048, slots: pool.slots ?? 2, maxNodes: pool.maxNodes ?? 2, idleTimeoutMs: pool.idleTimeoutMs ?? 60_000 }],
    onLog: () => {},
  });
  t.teardown(() => lzy.close());
  return lzy;
}

t.test('a diamond graph computes the right value', async (t) => {
  const lzy = await start(t);
  const result = await lzy.workflow('diamond', async () => {
    const a = inc(4); // 5
    return add(double(a), square(a)); // 10 + 25
  });
  t.equal(result, 35);
});

t.test('parallel branches run at the same time on two nodes', async (t) => {
  const lzy = await start(t, { slots: 1, maxNodes: 2 });
  const dir = tempDir(t);
  const [left, right] = await lzy.workflow('parallel', async () => {
    const l = meetAt(dir, 'left', 'right');
    const r = meetAt(dir, 'right', 'left');
    return [await l, await r];
  });
  t.not(left, right, 'each branch ran on its own node (agent process)');
});

t.test("an op's exception reaches the caller as OpError with the original name, message and stack", async (t) => {
  const lzy = await start(t);
  const error = await lzy.workflow('fails', async () => fails('bad input 42')).catch((e: unknown) => e);
  t.type(error, OpError);
  const opError = error as OpError;
  t.equal(opError.code, 'USER_ERROR');
  t.equal(opError.opName, 'fails');
  t.equal(opError.attempt, 1);
  t.equal(opError.remoteName, 'TypeError');
  t.match(opError.message, /bad input 42/);
  t.match(opError.remoteStack ?? '', /fixtures\/ops\.(ts|js)/, 'the stack points into the op module');
});

t.test("the workflow's signal fires with the OpError once an op fails, read before the failure or after it", async (t) => {
  const lzy = await start(t);
  let before: AbortSignal | undefined;
  let after: AbortSignal | undefined;
  const error = await lzy
    .workflow('fails', async (wf) => {
      before = wf.signal;
      t.notOk(before.aborted, 'the signal has not fired while the run goes well');
      try {
        await fails('bad input 7');
      } catch {
        // the failure is the workflow's too: it rejects with it below
      }
      after = wf.signal;
    })
    .catch((e: unknown) => e);
  t.type(error, OpError);
  t.ok(before?.aborted, 'the signal read before the failure fired');
  t.equal(before?.reason, error, 'its reason is the OpError');
  t.equal(after, before, 'read again, it is the same signal');
  // A run whose function reads the signal only once the op has failed.
  const late = await lzy
    .workflow('fails late', async (wf) => {
      try {
        await fails('bad input 8');
      } catch {
        // as above
      }
      after = wf.signal;
    })
    .catch((e: unknown) => e);
  t.ok(after?.aborted, 'read first after the failure, it has fired already');
  t.equal(after?.reason, late);
});

t.test('an op that is not exported is refused with the fix', async (t) => {
  const lzy = await start(t);
  const error = await lzy.workflow('hidden', async () => callHidden(1)).catch((e: unknown) => e);
  t.type(error, OpDefinitionError);
  t.match((error as Error).message, /not exported from .*hidden\.js; export it/);
});

t.test('identical calls in one graph run once; eager runs each call at once', async (t) => {
  const lzy = await start(t);
  const dir = tempDir(t);
  const { counted } = await import('./fixtures/ops.js');
  const [a, b] = await lzy.workflow('dedupe', async () => {
    const first = counted(dir, 7);
    const second = counted(dir, 7);
    return [await first, await second];
  });
  t.same([a, b], [7, 7]);
  t.equal(readFileSync(join(dir, 'counted.count'), 'utf8'), 'x\n', 'one execution for two identical calls');

  const seen = await lzy.workflow(
    'eager',
    async () => {
      const lazy = counted(dir, 8);
      // Not awaited yet: with eager it runs anyway.
      await waitUntil(() => readFileSync(join(dir, 'counted.count'), 'utf8').length === 4, 'the eager call to run before any await');
      return lazy;
    },
    { eager: true },
  );
  t.equal(seen, 8);
});

t.test('a retried op succeeds on its second attempt', async (t) => {
  const lzy = await start(t);
  const dir = tempDir(t);
  t.equal(await lzy.workflow('flaky', async () => flaky(dir)), 2);
});

t.test('a timed-out op is killed and fails with a timeout error', async (t) => {
  const lzy = await start(t);
  const error = (await lzy.workflow('spins', async () => spins()).catch((e: unknown) => e)) as OpError;
  t.type(error, OpError);
  t.equal(error.code, 'TIMEOUT');
  t.match(error.message, /300 ms/);
});

t.test('an AbortSignal cancels a running workflow and its op processes are gone', async (t) => {
  const lzy = await start(t);
  const dir = tempDir(t);
  const controller = new AbortController();
  const running = lzy.workflow('cancelled', async () => hangs(dir, 'h'), { signal: controller.signal }).catch((e: unknown) => e);
  const pidFile = join(dir, 'h.pid');
  await waitUntil(() => existsSync(pidFile), 'the op to start');
  const runnerPid = Number(readFileSync(pidFile, 'utf8').split(' ')[0]);
  t.ok(alive(runnerPid), 'the op process runs');
  controller.abort('user pressed stop');
  const error = await running;
  t.type(error, WorkflowCancelledError);
  t.match((error as Error).message, /user pressed stop/);
  await waitUntil(() => !alive(runnerPid), 'the op process to be killed');
  t.pass('the op process is gone');
});

t.test('killing a node-agent with SIGKILL mid-op reruns the op on a fresh node', async (t) => {
  const lzy = await start(t, { slots: 1, maxNodes: 2 });
  const dir = tempDir(t);
  const done = lzy.workflow('node-loss', async () => survivesNodeLoss(dir));
  const pidFile = join(dir, 'first-agent.pid');
  await waitUntil(() => existsSync(pidFile), 'the first attempt to start');
  const firstAgent = Number(readFileSync(pidFile, 'utf8'));
  process.kill(firstAgent, 'SIGKILL');
  const result = await done;
  t.equal(result.attempt, 2, 'the op ran a second time');
  t.not(result.agentPid, firstAgent, 'on another node');
});

t.test('when a node-agent dies, a runner stuck in a busy loop goes with its node', async (t) => {
  const { spinsForever } = await import('./fixtures/ops.js');
  const lzy = await start(t, { slots: 1, maxNodes: 2 });
  const dir = tempDir(t);
  const controller = new AbortController();
  const running = lzy.workflow('spinner', async () => spinsForever(dir), { signal: controller.signal }).catch((e: unknown) => e);
  const pidFiles = () => readdirSync(dir).filter((f) => f.startsWith('spinner.'));
  await waitUntil(() => pidFiles().length === 1, 'the op to start spinning');
  const [runnerPid, agentPid] = readFileSync(join(dir, pidFiles()[0]!), 'utf8').split(' ').map(Number) as [number, number];
  process.kill(agentPid, 'SIGKILL');
  await waitUntil(() => !alive(runnerPid), 'the spinning runner of the dead agent to be killed');
  t.pass('the orphaned runner is gone');
  controller.abort('done');
  t.type(await running, WorkflowCancelledError);
});

t.test('user code that exits, throws asynchronously or exhausts its heap fails its attempt; the agent keeps serving', async (t) => {
  const lzy = await start(t, { slots: 1, maxNodes: 1 });
  const before = await lzy.workflow('where', async () => whereAmI('before'));
  for (const [name, fn, code] of [
    ['exits', exits, /PROCESS_EXITED/],
    ['throws later', throwsLater, /USER_ERROR/],
    ['eats memory', eatsMemory, /OUT_OF_MEMORY/],
  ] as const) {
    const error = await lzy.workflow(name, async () => (fn as () => PromiseLike<unknown>)()).catch((e: unknown) => e);
    t.type(error, OpError, name);
    t.match((error as OpError).code, code, `${name}: ${(error as Error).message}`);
    const after = await lzy.workflow('where', async () => whereAmI(name));
    t.equal(after.agentPid, before.agentPid, `${name}: the same agent still serves`);
  }
});

t.test('a freed node is reused by the same tenant within the idle timeout and released after it', async (t) => {
  const lzy = await start(t, { slots: 1, maxNodes: 1, idleTimeoutMs: 1_500 });
  const first = await lzy.workflow('first', async () => whereAmI('1'));
  const second = await lzy.workflow('second', async () => whereAmI('2'));
  t.equal(second.agentPid, first.agentPid, 'the idle node was reused');
  await waitUntil(() => !alive(first.agentPid), 'the idle node to be released', 20_000);
  const third = await lzy.workflow('third', async () => whereAmI('3'));
  t.not(third.agentPid, first.agentPid, 'a new node after the release');
});

t.test('watching a run that has ended replays its results first, then its end', async (t) => {
  const { Runtime } = await import('@lzy/runtime');
  const runtime = await Runtime.start({ dataDir: tempDir(t), pools: [{ name: 'default', cpu: 2, memoryMb: 2048, slots: 2, maxNodes: 1, idleTimeoutMs: 60_000 }] });
  t.teardown(() => runtime.close());
  const connection = runtime.connect(await runtime.iam.issueToken('watcher', 'owner'));
  const lzy = Lzy.over(connection, { onLog: () => {} });
  let workflowId = '';
  t.equal(
    await lzy.workflow('done-before', async (wf) => {
      workflowId = wf.id;
      return add(inc(1), inc(2));
    }),
    5,
  );
  const seen: string[] = [];
  connection.watch(workflowId, (event) => seen.push(event.type));
  await waitUntil(() => seen.includes('workflow-ended'), 'the end of the run');
  t.same(seen, ['op-succeeded', 'op-succeeded', 'op-succeeded', 'progress', 'workflow-ended']);
});
