// Ops that fail: each fails only its own attempt, with the code the runtime's retry policy needs,
// and the agent goes on serving (a good op runs after each).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { tell } from '@lzy/actors';
import { decodeValue } from '../src/protocol/index.js';
import { startFakeRuntime, type FakeRuntime, type RunSpec } from './fake-runtime.js';
import { startAgent, tempDir, waitUntil, type AgentProcess, type Teardown } from './harness.js';

async function agentWith(t: Teardown): Promise<{ runtime: FakeRuntime; agent: AgentProcess }> {
  const runtime = await startFakeRuntime(t);
  const agent = startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '1']);
  return { runtime, agent };
}

async function failureOf(runtime: FakeRuntime, spec: RunSpec) {
  const outcome = await runtime.outcome(await runtime.run(spec));
  if (outcome.ok) throw new Error(`expected ${spec.exportName} to fail, it returned ${JSON.stringify(decodeValue(outcome.result.inline!))}`);
  return outcome.failure;
}

/** The agent is still alive and runs ops. */
async function stillServes(t: Test, runtime: FakeRuntime, agent: AgentProcess): Promise<void> {
  const outcome = await runtime.outcome(await runtime.run({ exportName: 'add', args: [20, 22] }));
  t.ok(outcome.ok && decodeValue(outcome.result.inline!) === 42, 'the next op runs');
  t.equal(agent.process.exitCode, null, 'the agent is still running');
}

t.test('an op that throws fails with USER_ERROR and keeps its error name, message and stack', async (t) => {
  const { runtime, agent } = await agentWith(t);
  const failure = await failureOf(runtime, { exportName: 'failWith', args: ['over quota'] });
  t.match(failure, { code: 'USER_ERROR', name: 'QuotaError', message: 'over quota', retryable: true });
  t.match(failure.stack, /^QuotaError: over quota\n\s+at failWith \(.*test\/fixtures\/ops\.ts:\d+:\d+\)/, 'the stack points at the TypeScript source');
  await stillServes(t, runtime, agent);
});

t.test('an op that calls process.exit fails with PROCESS_EXITED naming the exit code', async (t) => {
  const { runtime, agent } = await agentWith(t);
  const failure = await failureOf(runtime, { exportName: 'exitWith', args: [7] });
  t.match(failure, { code: 'PROCESS_EXITED', retryable: true, message: /runner process of op exitWith exited with code 7 while running it/ });
  await stillServes(t, runtime, agent);
});

t.test('an error thrown in a timer of the op fails the attempt with USER_ERROR and the runner is replaced', async (t) => {
  const { runtime, agent } = await agentWith(t);
  const failure = await failureOf(runtime, { exportName: 'throwLater', args: ['too late'] });
  t.match(failure, { code: 'USER_ERROR', name: 'RangeError', message: 'too late', stack: /RangeError: too late\n.*ops\.ts/ });
  await stillServes(t, runtime, agent);
});

t.test('an op that exhausts its memoryMb fails with OUT_OF_MEMORY', async (t) => {
  const { runtime, agent } = await agentWith(t);
  const failure = await failureOf(runtime, { exportName: 'exhaustHeap', memoryMb: 64 });
  t.match(failure, { code: 'OUT_OF_MEMORY', retryable: true, message: /op exhaustHeap ran out of memory: it exhausted its heap limit of 64 MiB/ });
  t.ok(
    runtime.logs(runtime.received.find((msg) => msg.type === 'attempt-finished')!.attemptId).some((log) => /heap out of memory/.test(log.text)),
    "V8's report reached the attempt's stderr log",
  );
  await stillServes(t, runtime, agent);
});

t.test('an op that runs past its timeoutMs is killed and fails with TIMEOUT naming the limit', async (t) => {
  const { runtime, agent } = await agentWith(t);
  const failure = await failureOf(runtime, { exportName: 'spin', timeoutMs: 300 });
  t.match(failure, { code: 'TIMEOUT', retryable: true, message: /op spin did not finish within its timeout of 300 ms; its runner was killed/ });
  await stillServes(t, runtime, agent);
});

t.test('an op that tells its agent another attempt finished fails with PROCESS_EXITED and its runner is replaced', async (t) => {
  const { runtime, agent } = await agentWith(t);
  const failure = await failureOf(runtime, { exportName: 'forgeFinished', args: ['someone-else'] });
  t.match(failure, { code: 'PROCESS_EXITED', message: /killed by signal SIGKILL .*the runner reported attempt someone-else finished while attempt \S+ was running/ });
  await stillServes(t, runtime, agent);
});

t.test('a cancelled attempt is killed and fails with CANCELLED', async (t) => {
  const { runtime, agent } = await agentWith(t);
  const started = join(tempDir(t), 'started');
  const attemptId = await runtime.run({ exportName: 'spin', args: [started] });
  await waitUntil(() => existsSync(started), 'the op to start');
  tell(await runtime.agent(), { type: 'cancel', attemptId });
  t.match(await runtime.outcome(attemptId), { ok: false, failure: { code: 'CANCELLED', retryable: true, message: /was cancelled/ } });
  t.equal(runtime.received.filter((msg) => msg.type === 'attempt-finished').length, 1, 'one attempt-finished for the run');
  await stillServes(t, runtime, agent);
});

t.test('an op of another tenant than the one its node was leased to is refused with WRONG_TENANT, naming both', async (t) => {
  const { runtime, agent } = await agentWith(t);
  const failure = await failureOf(runtime, { exportName: 'add', args: [1, 2], tenant: 'tenant-b' });
  t.match(failure, { code: 'WRONG_TENANT', name: 'WrongTenantError' });
  t.match(failure.message, /it is tenant tenant-b's, and this node serves tenant tenant-a only/);
  await stillServes(t, runtime, agent);
});
