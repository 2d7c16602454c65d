// What an op prints reaches the runtime as `log` messages of its attempt: in order, cut at line
// ends, and before the attempt's `attempt-finished`, even when a runner is reused right away.
import t from 'tap';
import { runShortOps, startFakeRuntime, type FakeRuntime } from './fake-runtime.js';
import { startAgent, type Teardown } from './harness.js';

async function agentWith(t: Teardown, slots: number): Promise<FakeRuntime> {
  const runtime = await startFakeRuntime(t);
  startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', String(slots)]);
  return runtime;
}

function expectedOutput(tag: string, lines: number): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  for (let i = 0; i < lines; i++) {
    stdout += `${tag} out ${i}\n`;
    if (i % 3 === 0) stderr += `${tag} err ${i}\n`;
  }
  return { stdout: `${stdout}${tag} done`, stderr };
}

function textOf(runtime: FakeRuntime, attemptId: string, stream: 'stdout' | 'stderr'): string {
  return runtime
    .logs(attemptId)
    .filter((log) => log.stream === stream)
    .map((log) => log.text)
    .join('');
}

t.test("an op's stdout and stderr arrive in order, cut at line ends, before its attempt-finished", async (t) => {
  const runtime = await agentWith(t, 1);
  const attemptId = await runtime.run({ exportName: 'chatter', args: ['solo', 200] });
  t.match(await runtime.outcome(attemptId), { ok: true });
  const expected = expectedOutput('solo', 200);
  t.equal(textOf(runtime, attemptId, 'stdout'), expected.stdout);
  t.equal(textOf(runtime, attemptId, 'stderr'), expected.stderr);
  const stdoutChunks = runtime.logs(attemptId).filter((log) => log.stream === 'stdout');
  t.ok(
    stdoutChunks.slice(0, -1).every((log) => log.text.endsWith('\n')),
    'every chunk but the last (which has no line end) ends at a line end',
  );
  const finishedAt = runtime.received.findIndex((msg) => msg.type === 'attempt-finished');
  const lastLogAt = runtime.received.findLastIndex((msg) => msg.type === 'log');
  t.ok(lastLogAt < finishedAt, 'all logs came before attempt-finished');
});

t.test('when a runner is reused at once, each attempt gets exactly its own output', async (t) => {
  const runtime = await agentWith(t, 1);
  // The second run waits for the only runner, which takes it as soon as the first is over.
  const first = await runtime.run({ exportName: 'chatter', args: ['first', 300] });
  const second = await runtime.run({ exportName: 'chatter', args: ['second', 300] });
  await runtime.outcome(second);
  for (const [attemptId, tag] of [
    [first, 'first'],
    [second, 'second'],
  ] as const) {
    const expected = expectedOutput(tag, 300);
    t.equal(textOf(runtime, attemptId, 'stdout'), expected.stdout, `${tag}: stdout`);
    t.equal(textOf(runtime, attemptId, 'stderr'), expected.stderr, `${tag}: stderr`);
  }
});

t.test('short ops sent at once to one runner each get exactly their own output, before their own result', async (t) => {
  const runtime = await agentWith(t, 1);
  await runShortOps(runtime);
  const tags = Array.from({ length: 20 }, (_, i) => `op${i}`);
  const ids = await runtime.runAll(tags.map((tag) => ({ exportName: 'chatter', args: [tag, 40] })));
  await Promise.all(ids.map((attemptId) => runtime.outcome(attemptId)));
  ids.forEach((attemptId, i) => {
    const expected = expectedOutput(tags[i]!, 40);
    t.equal(textOf(runtime, attemptId, 'stdout'), expected.stdout, `${tags[i]}: stdout`);
    t.equal(textOf(runtime, attemptId, 'stderr'), expected.stderr, `${tags[i]}: stderr`);
    const finishedAt = runtime.received.findIndex((msg) => msg.type === 'attempt-finished' && msg.attemptId === attemptId);
    const lastLogAt = runtime.received.findLastIndex((msg) => msg.type === 'log' && msg.attemptId === attemptId);
    t.ok(lastLogAt < finishedAt, `${tags[i]}: all its logs came before its attempt-finished`);
  });
});

t.test('attempts running side by side on two runners each get their own output', async (t) => {
  const runtime = await agentWith(t, 2);
  const left = await runtime.run({ exportName: 'chatter', args: ['left', 500] });
  const right = await runtime.run({ exportName: 'chatter', args: ['right', 500] });
  await Promise.all([runtime.outcome(left), runtime.outcome(right)]);
  t.equal(textOf(runtime, left, 'stdout'), expectedOutput('left', 500).stdout);
  t.equal(textOf(runtime, right, 'stdout'), expectedOutput('right', 500).stdout);
  t.equal(textOf(runtime, right, 'stderr'), expectedOutput('right', 500).stderr);
});

t.test('an op that replaces process.stdout.write or ends stdout neither hangs its attempt nor the next ones', async (t) => {
  const runtime = await agentWith(t, 1);
  for (const exportName of ['muteStdout', 'endStdout']) {
    t.match(await runtime.outcome(await runtime.run({ exportName })), { ok: true }, exportName);
  }
  const attemptId = await runtime.run({ exportName: 'chatter', args: ['after', 4] });
  t.match(await runtime.outcome(attemptId), { ok: true });
  t.equal(textOf(runtime, attemptId, 'stderr'), expectedOutput('after', 4).stderr, 'stderr still reaches the runtime');
});
