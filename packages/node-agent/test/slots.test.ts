// Slots: an agent runs as many attempts at once as it has slots, each in its own runner.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tell } from '@lzy/actors';
import { decodeValue } from '../src/protocol/index.js';
import { runShortOps, startFakeRuntime, type FakeRuntime } from './fake-runtime.js';
import { startAgent, tempDir, waitUntil, type Teardown } from './harness.js';

async function agentWith(t: Teardown, slots: number): Promise<FakeRuntime> {
  const runtime = await startFakeRuntime(t);
  startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', String(slots), '--heartbeat-ms', '20']);
  return runtime;
}

t.test('with 2 slots, two slow ops run at the same time', async (t) => {
  const runtime = await agentWith(t, 2);
  const dir = tempDir(t);
  // Each op returns only once the other has started: both finish only if they overlap.
  const a = await runtime.run({ exportName: 'meet', args: [dir, 'a', 'b'] });
  const b = await runtime.run({ exportName: 'meet', args: [dir, 'b', 'a'] });
  for (const [attemptId, text] of [
    [a, 'a met b'],
    [b, 'b met a'],
  ] as const) {
    const outcome = await runtime.outcome(attemptId);
    t.ok(outcome.ok && decodeValue(outcome.result.inline!) === text, text);
  }
});

t.test('with 1 slot, a second run waits until the first has finished', async (t) => {
  const runtime = await agentWith(t, 1);
  const dir = tempDir(t);
  const journal = join(dir, 'journal');
  const release = join(dir, 'release');
  const first = await runtime.run({ exportName: 'journal', args: [journal, 'first', release] });
  const second = await runtime.run({ exportName: 'journal', args: [journal, 'second'] });
  await waitUntil(() => existsSync(journal), 'the first op to start');
  // Two heartbeats that list both attempts: the agent holds the second while the first blocks.
  const holding = () => runtime.received.filter((msg) => msg.type === 'heartbeat' && msg.running.length === 2).length;
  const seen = holding();
  await waitUntil(() => holding() >= seen + 2, 'two more heartbeats with both attempts');
  t.equal(readFileSync(journal, 'utf8'), 'first start\n', 'the second has not started');
  writeFileSync(release, '');
  await runtime.outcome(second);
  t.match(await runtime.outcome(first), { ok: true });
  t.equal(readFileSync(journal, 'utf8'), 'first start\nfirst end\nsecond start\nsecond end\n');
});

t.test('an attempt waiting for a slot can be cancelled, and its timeout counts only once it runs', async (t) => {
  const runtime = await agentWith(t, 1);
  const dir = tempDir(t);
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const running = await runtime.run({ exportName: 'waitForFile', args: [started, release] });
  await waitUntil(() => existsSync(started), 'the first op to start');
  const cancelled = await runtime.run({ exportName: 'add', args: [1, 2] });
  // The timeout leaves a slow machine ample time to run `add` once the slot is free.
  const timeoutMs = 3000;
  const sent = Date.now();
  const patient = await runtime.run({ exportName: 'add', args: [3, 4], timeoutMs });
  tell(await runtime.agent(), { type: 'cancel', attemptId: cancelled });
  t.match(await runtime.outcome(cancelled), { ok: false, failure: { code: 'CANCELLED' } });
  // Two heartbeats after its timeout has passed still list the waiting attempt.
  const beats = () => runtime.received.filter((msg) => msg.type === 'heartbeat' && msg.running.includes(patient)).length;
  await waitUntil(() => Date.now() - sent > timeoutMs, 'the waiting attempt to wait past its timeout');
  const seen = beats();
  await waitUntil(() => beats() >= seen + 2, 'two more heartbeats with the waiting attempt');
  t.notOk(runtime.received.some((msg) => msg.type === 'attempt-finished' && msg.attemptId === patient), 'waiting did not time it out');
  writeFileSync(release, '');
  const outcome = await runtime.outcome(running);
  t.ok(outcome.ok && decodeValue(outcome.result.inline!) === 'released', 'the running attempt was not disturbed');
  const later = await runtime.outcome(patient);
  t.ok(later.ok && decodeValue(later.result.inline!) === 7, 'the waiting attempt ran once the slot was free');
});

/**
 * Runs an op (returning at once when given no arguments) many times, so the agent's attempts have
 * been short and it sends more behind busy runners. A runner's first call is slow: the second
 * round is timed warm.
 */
async function primeShort(runtime: FakeRuntime, exportName = 'runnerPid'): Promise<void> {
  for (let round = 0; round < 2; round++) await valuesOf(runtime, await runtime.runAll(Array.from({ length: 64 }, () => ({ exportName }))));
}

async function valuesOf(runtime: FakeRuntime, attemptIds: string[]): Promise<unknown[]> {
  return Promise.all(
    attemptIds.map(async (attemptId) => {
      const outcome = await runtime.outcome(attemptId);
      if (!outcome.ok) throw new Error(`attempt ${attemptId} failed: ${outcome.failure.code} ${outcome.failure.message}`);
      return decodeValue(outcome.result.inline!);
    }),
  );
}


t.test('with 2 slots, after many tiny ops, two slow ops of another op sent at once still run at the same time', async (t) => {
  const runtime = await agentWith(t, 2);
  await primeShort(runtime);
  const dir = tempDir(t);
  // Each returns only once the other has started: both finish only if each has a runner of its own.
  const ids = await runtime.runAll([
    { exportName: 'meet', args: [dir, 'a', 'b'] },
    { exportName: 'meet', args: [dir, 'b', 'a'] },
  ]);
  t.same(await valuesOf(runtime, ids), ['a met b', 'b met a']);
});

t.test('with 2 slots, a tiny op takes the idle runner rather than waiting behind a slow op', async (t) => {
  const runtime = await agentWith(t, 2);
  await primeShort(runtime);
  const dir = tempDir(t);
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const slow = await runtime.run({ exportName: 'waitForFile', args: [started, release] });
  await waitUntil(() => existsSync(started), 'the slow op to start');
  // Fewer than a runner holds (PIPELINE_DEPTH): all of them fit behind each other on the idle runner.
  t.equal((await runShortOps(runtime, 8)).length, 8, 'tiny ops returned while the slow op runs');
  t.notOk(runtime.received.some((msg) => msg.type === 'attempt-finished' && msg.attemptId === slow), 'the slow op has not finished');
  writeFileSync(release, '');
  t.match(await runtime.outcome(slow), { ok: true });
});

t.test('with 2 slots, tiny ops sent behind one that hangs are taken back and run on the other runner', async (t) => {
  const runtime = await agentWith(t, 2);
  // The op has been short: attempts go behind busy runners, some behind the one that hangs.
  await primeShort(runtime, 'pidOrHold');
  const dir = tempDir(t);
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const [held, ...behind] = await runtime.runAll([{ exportName: 'pidOrHold', args: [started, release] }, ...Array.from({ length: 4 }, () => ({ exportName: 'pidOrHold' }))]);
  await waitUntil(() => existsSync(started), 'the held op to start');
  const pids = await valuesOf(runtime, behind);
  t.notOk(runtime.received.some((msg) => msg.type === 'attempt-finished' && msg.attemptId === held), 'the held op has not finished');
  writeFileSync(release, '');
  const heldPid = await valuesOf(runtime, [held!]);
  t.notOk(pids.includes(heldPid[0]), "none of them ran on the held op's runner");
});
