// `lzy agent`'s node-agent logs JSON lines (pino) on stderr: one per state change of its node and
// of each attempt, with the node's, the tenant's and the attempt's ids, and never a token.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { fixture, lzy, startAgent, startServer, tempDir, tenantToken, waitUntil } from './harness.js';

interface LogLine {
  level: number;
  msg: string;
  service?: string;
  nodeId?: string;
  tenant?: string;
  attemptId?: string;
  opName?: string;
}

t.test('lzy agent logs JSON lines with its node, tenant and attempt ids for a whole run, and no token', async (t) => {
  const server = await startServer(t, { pools: [{ name: 'default', kind: 'static', slots: 1, maxNodes: 1, idleTimeoutMs: 60_000 }] });
  const join = await lzy(['token', 'create', '--agent', '--pool', 'default', '--endpoint', server.url, '--token', server.adminToken]);
  t.equal(join.code, 0, join.stderr);
  const joinToken = join.lines.at(-1)!;
  const agent = startAgent(t, ['--server', server.url, '--pool', 'default', '--token', joinToken, '--slots', '1', '--log-level', 'debug']);
  const token = await tenantToken(server, 'alpha');
  const run = await lzy(['run', fixture('chain-program')], { LZY_ENDPOINT: server.url, LZY_TOKEN: token, LZY_TEST_DIR: tempDir(t) });
  t.equal(run.code, 0, run.stderr);
  await waitUntil(() => agent.errorLines.filter((line) => line.includes('"attempt ended"')).length === 3, 'the agent to log the end of the three attempts', 60_000);

  const lines = agent.errorLines.map((line) => JSON.parse(line) as LogLine);
  t.ok(lines.every((line) => line.service === 'lzy-node-agent' && typeof line.level === 'number'), 'every line is a JSON log line of the node-agent');
  t.match(lines.find((line) => line.msg === 'registered'), { server: server.url, pool: 'default' }, 'it tells when its node registered');
  const leased = lines.find((line) => line.msg === 'leased');
  t.match(leased, { tenant: 'alpha', nodeId: /\S/ }, 'and when it was leased, to which tenant, as which node');
  const attempts = lines.filter((line) => line.msg.startsWith('attempt '));
  t.equal(attempts.length, 6, 'a line for the start and the end of each attempt');
  t.ok(attempts.every((line) => line.attemptId && line.tenant === 'alpha' && line.nodeId === leased!.nodeId), 'each with the attempt’s, the tenant’s and the node’s ids');
  const all = agent.errorLines.join('\n');
  for (const secret of [joinToken, token, server.adminToken]) t.notOk(all.includes(secret), 'no line holds a token');
});

const noScript = spawnSync('script', ['--version']).error ? 'no `script` (util-linux) to give lzy agent a terminal' : false;

t.test('on a terminal, lzy agent shows its node-agent’s log as readable lines, not JSON', { skip: noScript }, async (t) => {
  const server = await startServer(t, { pools: [{ name: 'default', kind: 'static', slots: 1, maxNodes: 1, idleTimeoutMs: 60_000 }] });
  const join = await lzy(['token', 'create', '--agent', '--pool', 'default', '--endpoint', server.url, '--token', server.adminToken]);
  t.equal(join.code, 0, join.stderr);
  const joinToken = join.lines.at(-1)!;
  const agent = [process.execPath, fileURLToPath(new URL('../../bin/lzy.js', import.meta.url)), 'agent', '--server', server.url, '--pool', 'default', '--slots', '1'];
  // `script` runs lzy agent on a pseudo-terminal, and passes what it writes there on to us.
  const terminal = spawn('script', ['-qec', agent.join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, LZY_JOIN_TOKEN: joinToken } });
  t.teardown(() => void terminal.kill('SIGKILL'));
  let shown = '';
  terminal.stdout.on('data', (chunk: Buffer) => (shown += chunk.toString()));
  await waitUntil(() => /registered/.test(shown), 'the node-agent to say it registered', 60_000);
  // Ctrl-C, as the terminal's user would.
  terminal.stdin.write('\x03');
  await once(terminal, 'exit');
  t.match(shown, /^\[[\d:.]+\] \S*INFO\S* \(\d+\): \S*registered/m, 'the node-agent’s lines are readable: time, level, pid, message');
  t.match(shown, /^\s+\S*server\S*: "ws:/m, 'with their fields below');
  t.notOk(shown.includes('{"level"'), 'and none is a JSON line');
  t.notOk(shown.includes(joinToken), 'nor shows the join token');
});
