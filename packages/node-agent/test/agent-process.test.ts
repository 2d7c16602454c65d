// The agent as a process: registration and heartbeats, its exit codes, and a graceful stop.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tell } from '@lzy/actors';
import { decodeValue } from '../src/protocol/index.js';
import { runShortOps, startFakeRuntime } from './fake-runtime.js';
import { startAgent, tempDir, waitUntil } from './harness.js';

t.test('the agent registers its slots and pid, then sends heartbeats listing its running attempts', async (t) => {
  const runtime = await startFakeRuntime(t);
  // The server and token can come from the environment, as the runtime's local backend passes the token.
  const agent = startAgent(t, ['--slots', '3', '--heartbeat-ms', '20'], { LZY_SERVER: runtime.url, LZY_TOKEN: runtime.token });
  await runtime.agent();
  t.same(runtime.received[0], { type: 'register', slots: 3, pid: agent.process.pid }, 'register comes first');
  await waitUntil(() => runtime.received.filter((msg) => msg.type === 'heartbeat').length >= 2, 'two heartbeats');
  t.ok(
    runtime.received.every((msg) => msg.type !== 'heartbeat' || msg.running.length === 0),
    'an idle agent reports nothing running',
  );

  const dir = tempDir(t);
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const attemptId = await runtime.run({ exportName: 'waitForFile', args: [started, release] });
  await waitUntil(() => existsSync(started), 'the op to start');
  await waitUntil(
    () => runtime.received.some((msg) => msg.type === 'heartbeat' && msg.running.includes(attemptId)),
    'a heartbeat listing the attempt',
  );
  writeFileSync(release, '');
  await runtime.outcome(attemptId);
  const finishedAt = runtime.received.findIndex((msg) => msg.type === 'attempt-finished');
  await waitUntil(() => runtime.received.findLastIndex((msg) => msg.type === 'heartbeat') > finishedAt, 'a heartbeat after the attempt');
  t.same(runtime.received.findLast((msg) => msg.type === 'heartbeat'), { type: 'heartbeat', running: [] }, 'a finished attempt is no longer listed');
});

t.test('an agent whose token the server refuses exits with code 3 and says why', async (t) => {
  const runtime = await startFakeRuntime(t);
  const agent = startAgent(t, ['--server', runtime.url, '--token', 'stolen', '--slots', '1']);
  t.same(await agent.exited, { code: 3, signal: null });
  t.match(agent.stderr.join('\n'), /refused this agent: .*authentication failed: unknown token/);
  t.equal(runtime.received.length, 0, 'it sent nothing');
});

t.test('an agent whose server is gone exits with code 1 after 10 heartbeat intervals, and its runners with it', async (t) => {
  const runtime = await startFakeRuntime(t);
  const agent = startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '2', '--heartbeat-ms', '30']);
  t.match(await runtime.outcome(await runtime.run({ exportName: 'add', args: [1, 2] })), { ok: true });
  await runtime.stop();
  t.same(await agent.exited, { code: 1, signal: null });
  t.match(agent.stderr.join('\n'), /no connection to ws:\/\/127\.0\.0\.1:\d+ for 10 heartbeat intervals; exiting/);
  await waitUntil(() => !agent.groupAlive(), 'the runners to exit with the agent');
});

t.test('bad or missing flags exit with code 2 and one line saying what is wrong', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--token', 'x', '--slots', '1'], /--server is required/],
    [['--server', 'http://127.0.0.1:1', '--token', 'x', '--slots', '1'], /--server must be a ws:\/\/ or wss:\/\/ URL/],
    [['--server', 'ws://127.0.0.1:1', '--slots', '1'], /--token is required/],
    [['--server', 'ws://127.0.0.1:1', '--token', 'x'], /--slots is required/],
    [['--server', 'ws://127.0.0.1:1', '--token', 'x', '--slots', 'two'], /--slots must be an integer from 1 to 1024, got 'two'/],
    [['--server', 'ws://127.0.0.1:1', '--token', 'x', '--slots', '1', '--heartbeat-ms', '0'], /--heartbeat-ms must be an integer/],
    [['--server', 'ws://127.0.0.1:1', '--token', 'x', '--slots', '1', '--verbose'], /Unknown option '--verbose'/],
  ];
  await Promise.all(
    cases.map(async ([args, problem]) => {
      const agent = startAgent(t, args, { LZY_SERVER: '', LZY_TOKEN: '' });
      t.same(await agent.exited, { code: 2, signal: null }, args.join(' '));
      // The process may exit before its last line is read from the pipe.
      await waitUntil(() => agent.process.stderr!.readableEnded, "the agent's stderr to end");
      t.equal(agent.stderr.length, 1, 'one line');
      t.match(agent.stderr[0], problem);
      t.match(agent.stderr[0], /usage: lzy-node-agent --server/);
    }),
  );
});

t.test('SIGTERM lets the running attempt finish, refuses new ones, then the agent and its runners exit 0', async (t) => {
  const runtime = await startFakeRuntime(t);
  const agent = startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '2']);
  const dir = tempDir(t);
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const running = await runtime.run({ exportName: 'waitForFile', args: [started, release] });
  await waitUntil(() => existsSync(started), 'the op to start');
  agent.process.kill('SIGTERM');
  await agent.stderrLine('shutting down');

  const late = await runtime.run({ exportName: 'add', args: [1, 2] });
  t.match(await runtime.outcome(late), { ok: false, failure: { code: 'NODE_LOST', retryable: true, message: /not started: the node-agent is shutting down/ } });
  t.equal(agent.process.exitCode, null, 'the agent waits for its running attempt');

  writeFileSync(release, '');
  const outcome = await runtime.outcome(running);
  t.ok(outcome.ok && decodeValue(outcome.result.inline!) === 'released', 'the running attempt finished with its result');
  t.same(await agent.exited, { code: 0, signal: null });
  await waitUntil(() => !agent.groupAlive(), 'the runners to exit with the agent');
});

t.test('SIGTERM also waits for the short ops queued on a runner behind the running one', async (t) => {
  const runtime = await startFakeRuntime(t);
  const agent = startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '1']);
  await runShortOps(runtime);
  const dir = tempDir(t);
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const [running, ...queued] = await runtime.runAll([
    { exportName: 'waitForFile', args: [started, release] },
    { exportName: 'add', args: [1, 2] },
    { exportName: 'add', args: [3, 4] },
  ]);
  await waitUntil(() => existsSync(started), 'the op to start');
  agent.process.kill('SIGTERM');
  await agent.stderrLine('waiting for 3 running attempt(s)');
  writeFileSync(release, '');
  t.match(await runtime.outcome(running!), { ok: true });
  for (const attemptId of queued) t.match(await runtime.outcome(attemptId), { ok: true });
  t.same(await agent.exited, { code: 0, signal: null });
});

t.test('a shutdown message makes an idle agent exit 0', async (t) => {
  const runtime = await startFakeRuntime(t);
  const agent = startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '1']);
  tell(await runtime.agent(), { type: 'shutdown' });
  t.same(await agent.exited, { code: 0, signal: null });
  await waitUntil(() => !agent.groupAlive(), 'the runners to exit with the agent');
});
