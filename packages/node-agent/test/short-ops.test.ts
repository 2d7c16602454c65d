// Short ops sent at once: an agent whose ops have been short sends a busy runner several attempts
// ahead. They run one after another in the order sent, each with its own result and timeout, and
// one that dies, hangs or is cancelled among them fails alone: those behind it run elsewhere.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tell } from '@lzy/actors';
import { CHUNK_BYTES, decodeValue, uriOf } from '../src/protocol/index.js';
import { runShortOps, startFakeRuntime, type FakeRuntime, type RunSpec } from './fake-runtime.js';
import { startAgent, tempDir, waitUntil, type Teardown } from './harness.js';

async function agentWith(t: Teardown): Promise<FakeRuntime> {
  const runtime = await startFakeRuntime(t);
  startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '1', '--heartbeat-ms', '20']);
  return runtime;
}

async function valueOf(runtime: FakeRuntime, attemptId: string): Promise<unknown> {
  const outcome = await runtime.outcome(attemptId);
  if (!outcome.ok) throw new Error(`attempt ${attemptId} failed: ${outcome.failure.code} ${outcome.failure.message}`);
  return decodeValue(outcome.result.inline!);
}

function finishedCount(runtime: FakeRuntime, attemptId: string): number {
  return runtime.received.filter((msg) => msg.type === 'attempt-finished' && msg.attemptId === attemptId).length;
}

/** Waits until `count` more heartbeats list `attemptId`: the agent has held it that many intervals. */
async function heldFor(runtime: FakeRuntime, attemptId: string, count: number): Promise<void> {
  const beats = () => runtime.received.filter((msg) => msg.type === 'heartbeat' && msg.running.includes(attemptId)).length;
  const seen = beats();
  await waitUntil(() => beats() >= seen + count, `${count} more heartbeats listing ${attemptId}`);
}

t.test('with 1 slot, many short ops sent at once all return their own results, one after another in the order sent, in one runner', async (t) => {
  const runtime = await agentWith(t);
  const journal = join(tempDir(t), 'journal');
  const count = 200;
  const ids = await runtime.runAll(Array.from({ length: count }, (_, i) => ({ exportName: 'step', args: [journal, String(i)] })));
  const pids = await Promise.all(ids.map((attemptId) => valueOf(runtime, attemptId)));
  t.equal(new Set(pids).size, 1, 'one runner ran them all');
  const expected = Array.from({ length: count }, (_, i) => `${i} start\n${i} end\n`).join('');
  t.equal(readFileSync(journal, 'utf8'), expected, 'each ran alone, in the order sent');
  t.ok(
    ids.every((attemptId) => finishedCount(runtime, attemptId) === 1),
    'one attempt-finished each',
  );
});

t.test('an attempt queued behind a slow op on its runner has its own timeout, counted from when it begins', async (t) => {
  const runtime = await agentWith(t);
  await runShortOps(runtime);
  const dir = tempDir(t);
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const [slow, quick] = await runtime.runAll([
    { exportName: 'waitForFile', args: [started, release] },
    { exportName: 'add', args: [1, 2], timeoutMs: 50 },
  ]);
  await waitUntil(() => existsSync(started), 'the slow op to start');
  // Four heartbeats 20 ms apart: the quick op has waited past its timeout of 50 ms.
  await heldFor(runtime, quick!, 4);
  writeFileSync(release, '');
  t.equal(await valueOf(runtime, slow!), 'released', 'the slow op was not disturbed');
  t.equal(await valueOf(runtime, quick!), 3, 'waiting did not time the quick op out');
});

const failingAmongShortOps: Array<{ what: string; spec: RunSpec; failure: object }> = [
  {
    what: 'an endless op with a timeout fails with TIMEOUT',
    spec: { exportName: 'spin', timeoutMs: 300 },
    failure: { code: 'TIMEOUT', message: /op spin did not finish within its timeout of 300 ms/ },
  },
  {
    what: 'an op that calls process.exit fails with PROCESS_EXITED',
    spec: { exportName: 'exitWith', args: [7] },
    failure: { code: 'PROCESS_EXITED', message: /runner process of op exitWith exited with code 7 while running it/ },
  },
  {
    what: 'an op that throws in a timer fails with USER_ERROR',
    spec: { exportName: 'throwLater', args: ['too late'] },
    failure: { code: 'USER_ERROR', name: 'RangeError', message: 'too late' },
  },
];

for (const { what, spec, failure } of failingAmongShortOps) {
  t.test(`with 1 slot, ${what} alone among short ops sent at once: those before it and those queued behind it succeed`, async (t) => {
    const runtime = await agentWith(t);
    const [pid] = await runShortOps(runtime);
    const ids = await runtime.runAll([
      { exportName: 'runnerPid' },
      { exportName: 'runnerPid' },
      spec,
      { exportName: 'runnerPid' },
      { exportName: 'runnerPid' },
    ]);
    const [before1, before2, failing, after1, after2] = ids as [string, string, string, string, string];
    t.match(await runtime.outcome(failing), { ok: false, failure });
    t.equal(await valueOf(runtime, before1), pid, 'the first op before it ran on the runner');
    t.equal(await valueOf(runtime, before2), pid, 'so did the second');
    for (const attemptId of [after1, after2]) {
      const after = await valueOf(runtime, attemptId);
      t.not(after, pid, 'an op queued behind it ran on a new runner');
    }
    t.ok(
      ids.every((attemptId) => finishedCount(runtime, attemptId) === 1),
      'one attempt-finished each: the ops queued behind it were not reported failed',
    );
  });
}

t.test('a large result reaches the agent before the op queued behind it begins, even when that op never returns', async (t) => {
  const runtime = await agentWith(t);
  await runShortOps(runtime);
  const size = 4 * CHUNK_BYTES;
  const [large, endless, after] = (await runtime.runAll([
    { exportName: 'makeBytes', args: [size, 7] },
    { exportName: 'spin', timeoutMs: 300 },
    { exportName: 'runnerPid' },
  ])) as [string, string, string];
  const outcome = await runtime.outcome(large);
  if (!outcome.ok) throw new Error(outcome.failure.message);
  t.equal((decodeValue(runtime.blobs.get(uriOf(outcome.result))!) as Uint8Array).length, size, 'the large result was stored');
  t.match(await runtime.outcome(endless), { ok: false, failure: { code: 'TIMEOUT' } });
  t.match(await runtime.outcome(after), { ok: true });
});

t.test('an attempt cancelled while queued behind a running op is CANCELLED at once and never runs; the runner is kept', async (t) => {
  const runtime = await agentWith(t);
  const [pid] = await runShortOps(runtime);
  const dir = tempDir(t);
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const [running, before, cancelled, after] = (await runtime.runAll([
    { exportName: 'waitForFile', args: [started, release] },
    { exportName: 'runnerPid' },
    { exportName: 'spin' },
    { exportName: 'runnerPid' },
  ])) as [string, string, string, string];
  await waitUntil(() => existsSync(started), 'the first op to start');
  tell(await runtime.agent(), { type: 'cancel', attemptId: cancelled });
  t.match(await runtime.outcome(cancelled), { ok: false, failure: { code: 'CANCELLED', message: /was cancelled/ } });
  t.equal(finishedCount(runtime, running), 0, 'while the op ahead of it still runs');
  writeFileSync(release, '');
  t.equal(await valueOf(runtime, running), 'released');
  t.equal(await valueOf(runtime, before), pid, 'the op queued before it ran on the runner');
  // Had the endless op run, nothing would run after it on the only runner.
  t.equal(await valueOf(runtime, after), pid, 'the op queued behind it ran on the same runner');
  t.equal(finishedCount(runtime, cancelled), 1, 'one attempt-finished for the cancelled attempt');
});

t.test('an op that tells its agent it gave back attempts fails with PROCESS_EXITED; the op queued behind it runs on a new runner', async (t) => {
  const runtime = await agentWith(t);
  const [pid] = await runShortOps(runtime);
  const [forger, after] = (await runtime.runAll([{ exportName: 'forgeWithdrawn', args: [['someone-else']] }, { exportName: 'runnerPid' }])) as [string, string];
  t.match(await runtime.outcome(forger), { ok: false, failure: { code: 'PROCESS_EXITED', message: /killed by signal SIGKILL .*the runner gave back attempt/ } });
  t.not(await valueOf(runtime, after), pid, 'the op queued behind it ran on a new runner');
});

t.test('an attempt cancelled while queued right behind an op busy in synchronous code never runs: its runner is replaced as it begins it', async (t) => {
  const runtime = await agentWith(t);
  await runShortOps(runtime);
  const started = join(tempDir(t), 'started');
  const [busy, cancelled, after] = (await runtime.runAll([
    { exportName: 'busyFor', args: [started, 1000] },
    { exportName: 'spin' },
    { exportName: 'runnerPid' },
  ])) as [string, string, string];
  await waitUntil(() => existsSync(started), 'the busy op to start');
  tell(await runtime.agent(), { type: 'cancel', attemptId: cancelled });
  t.match(await runtime.outcome(cancelled), { ok: false, failure: { code: 'CANCELLED', message: /was cancelled/ } });
  const busyPid = await valueOf(runtime, busy);
  t.not(await valueOf(runtime, after), busyPid, 'the op queued behind it ran on a new runner');
  t.equal(finishedCount(runtime, cancelled), 1, 'one attempt-finished for the cancelled attempt');
});

t.test('after a long op, attempts wait in the agent rather than behind a running op: cancelling one leaves the runner alone', async (t) => {
  const runtime = await agentWith(t);
  const dir = tempDir(t);
  const longStarted = join(dir, 'long-started');
  const longRelease = join(dir, 'long-release');
  const long = await runtime.run({ exportName: 'waitForFile', args: [longStarted, longRelease] });
  await waitUntil(() => existsSync(longStarted), 'the long op to start');
  // Two heartbeats 20 ms apart while it runs: it ran far longer than a short op.
  await heldFor(runtime, long, 2);
  writeFileSync(longRelease, '');
  t.equal(await valueOf(runtime, long), 'released');
  const pid = await valueOf(runtime, await runtime.run({ exportName: 'runnerPid' }));

  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const [running, cancelled, after] = (await runtime.runAll([
    { exportName: 'waitForFile', args: [started, release] },
    { exportName: 'runnerPid' },
    { exportName: 'runnerPid' },
  ])) as [string, string, string];
  await waitUntil(() => existsSync(started), 'the op to start');
  tell(await runtime.agent(), { type: 'cancel', attemptId: cancelled });
  t.match(await runtime.outcome(cancelled), { ok: false, failure: { code: 'CANCELLED' } });
  writeFileSync(release, '');
  t.equal(await valueOf(runtime, running), 'released');
  t.equal(await valueOf(runtime, after), pid, 'the next op ran on the same runner');
});
