// `lzy agent`'s node-agent logs JSON lines (pino) on stderr: one per state change of its node and
// of each attempt, with the node's, the tenant's and the attempt's ids, and never a token.
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
  const agent = startAgent(t, ['--server', server.url, '--pool', 'default', '--token', joinToken, '--slots', '1', '--log-level', 'info']);
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
