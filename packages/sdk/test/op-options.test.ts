import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Runtime } from '@lzy/runtime';
import { Lzy, OpError, op } from '../src/index.js';
import { inGpuPool, readsEnv, survivesNodeLoss, tooBig, whereAmI } from './fixtures/ops.js';
import { tempDir, waitUntil } from './harness.js';

t.test('an op sees the environment variables it declares', async (t) => {
  const lzy = await Lzy.start({ dataDir: tempDir(t), onLog: () => {} });
  t.teardown(() => lzy.close());
  t.equal(await lzy.workflow('env', async () => readsEnv()), 'hello from env');
});

t.test('an op asking for a pool that does not exist, or more memory than its nodes have, is refused', async (t) => {
  const lzy = await Lzy.start({ dataDir: tempDir(t), onLog: () => {} });
  t.teardown(() => lzy.close());
  await t.rejects(lzy.workflow('gpu', async () => inGpuPool()), /asks for pool gpu, which does not exist; pools: default/);
  await t.rejects(lzy.workflow('big', async () => tooBig()), /asks for 65536 MiB; nodes of pool default have 4096 MiB/);
});

t.test('bad op options are refused when the op is defined, naming the option', async (t) => {
  t.throws(() => op({ memory: 'lots' }, async () => 1), /memory "lots" is not a size like '512Mi'/);
  t.throws(() => op({ timeout: '5 parsecs' }, async () => 1), /timeout "5 parsecs" is not a duration/);
  t.throws(() => op({ retries: -1 }, async () => 1), /retries.max must be a whole number/);
  t.throws(() => op({ colour: 'red' } as never, async () => 1), /unknown op option 'colour'/);
});

t.test('outside a workflow an op is a plain local call', async (t) => {
  const result = await whereAmI('local');
  t.equal(result.runnerPid, process.pid, 'it ran in this process');
});

t.test('a frozen node-agent is declared lost after missed heartbeats and its op reruns on a fresh node', async (t) => {
  const runtime = await Runtime.start({
    dataDir: tempDir(t),
    pools: [{ name: 'default', cpu: 1, memoryMb: 1024, slots: 1, maxNodes: 2, idleTimeoutMs: 60_000 }],
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 1_500,
  });
  t.teardown(() => runtime.close());
  const lzy = Lzy.over(runtime.connect(await runtime.iam.issueToken('frozen')), { onLog: () => {} });
  const dir = tempDir(t);
  const done = lzy.workflow('frozen', async () => survivesNodeLoss(dir));
  const pidFile = join(dir, 'first-agent.pid');
  await waitUntil(() => existsSync(pidFile), 'the first attempt to start');
  const frozen = Number(readFileSync(pidFile, 'utf8'));
  process.kill(frozen, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(frozen, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const result = await done;
  t.equal(result.attempt, 2);
  t.not(result.agentPid, frozen, 'the op ran again on another node');
});

t.test('a node that does not register within the allocation timeout fails the op with a clear error', async (t) => {
  const runtime = await Runtime.start({ dataDir: tempDir(t), allocationTimeoutMs: 1 });
  t.teardown(() => runtime.close());
  const lzy = Lzy.over(runtime.connect(await runtime.iam.issueToken('impatient')), { onLog: () => {} });
  const error = (await lzy.workflow('no-node', async () => whereAmI('x')).catch((e: unknown) => e)) as OpError;
  t.type(error, OpError);
  t.equal(error.code, 'ALLOCATION_FAILED');
  t.match(error.message, /did not register within 1 ms/);
});

t.test('values keep their types on the way to an op and back: Map, Set, Date, BigInt, bytes, nested objects', async (t) => {
  const { echo } = await import('./fixtures/ops.js');
  const lzy = await Lzy.start({ dataDir: tempDir(t), onLog: () => {} });
  t.teardown(() => lzy.close());
  const value = {
    map: new Map<unknown, unknown>([
      [1, 'one'],
      ['two', { deep: [2] }],
    ]),
    set: new Set(['a', 'b']),
    date: new Date('2026-01-02T03:04:05Z'),
    big: 12345678901234567890n,
    bytes: new Uint8Array([1, 2, 3]),
    nested: { list: [{ a: 1 }, { a: 2 }] },
  };
  const result = await lzy.workflow('types', async () => echo(value));
  t.same(result.seen, [
    'map:[object Map]',
    'set:[object Set]',
    'date:[object Date]',
    'big:[object BigInt]',
    'bytes:[object Uint8Array]',
    'nested:[object Object]',
  ]);
  t.same(result.value, value, 'and they come back equal');
  t.ok((result.value as typeof value).map instanceof Map, 'a Map is still a Map');
});

t.test('a function or a promise passed to an op is refused at the call, naming where it is', async (t) => {
  const { echo } = await import('./fixtures/ops.js');
  const lzy = await Lzy.start({ dataDir: tempDir(t), onLog: () => {} });
  t.teardown(() => lzy.close());
  const checked = await lzy.workflow('not-data', async () => {
    t.throws(() => echo({ settings: { onDone: () => 1 } }), { name: 'UnencodableValueError', message: 'value.settings.onDone is a function; only data can be passed between ops' });
    t.throws(() => echo([1, Promise.resolve(2)]), { name: 'UnencodableValueError', message: /value\[1\] is a Promise; await it first/ });
    return 'checked';
  });
  t.equal(checked, 'checked', 'the calls were made inside the workflow, which then succeeded');
});
