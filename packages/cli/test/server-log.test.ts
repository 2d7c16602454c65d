import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { fixture, lzy, tempDir, waitUntil } from './harness.js';

type SecretScan = { findSecrets(source: string, lines: string[]): unknown[] };
const { findSecrets } = (await import(new URL('../../../../scripts/secret-scan.mjs', import.meta.url).href)) as SecretScan;

interface LogLine {
  level: number;
  msg: string;
  event?: string;
  [field: string]: unknown;
}

t.test('the server’s log of a whole run is JSON lines, one per state change with its ids, and holds no secret', async (t) => {
  const dataDir = tempDir(t);
  const pools = join(tempDir(t), 'pools.json');
  writeFileSync(pools, JSON.stringify([{ name: 'default', cpu: 2, memoryMb: 2048, slots: 2, maxNodes: 1, idleTimeoutMs: 60_000 }]));
  const bin = fileURLToPath(new URL('../../bin/lzy.js', import.meta.url));
  const server = spawn(process.execPath, [bin, 'server', '--port', '0', '--data-dir', dataDir, '--pools', pools, '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(server, 'exit');
  t.teardown(() => void (server.exitCode === null && server.signalCode === null && server.kill('SIGKILL')));
  const stderr: string[] = [];
  let url = '';
  createInterface({ input: server.stderr }).on('line', (line) => stderr.push(line));
  createInterface({ input: server.stdout }).on('line', (line) => (url = line.startsWith('lzy server listening on ') ? line.split(' ').at(-1)! : url));
  await waitUntil(() => url !== '', 'the server to listen', 30_000);
  const admin = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();

  const created = await lzy(['token', 'create', '--tenant', 'team', '--endpoint', url, '--token', admin]);
  t.equal(created.code, 0, created.stderr);
  const token = created.lines.at(-1)!;
  const run = await lzy(['run', fixture('chain-program')], { LZY_ENDPOINT: url, LZY_TOKEN: token, LZY_TEST_DIR: tempDir(t) });
  t.equal(run.code, 0, run.stderr);
  const refused = await lzy(['status', '--endpoint', url, '--token', 'lzy_wrong-token-of-nobody']);
  t.equal(refused.code, 1);
  server.kill('SIGTERM');
  await exited;

  const lines = stderr.filter((line) => !/oidc-provider|Unsupported runtime/.test(line));
  const logged = lines.map((line) => {
    try {
      return JSON.parse(line) as LogLine;
    } catch {
      t.fail(`not a JSON line: ${line}`);
      return undefined;
    }
  }).flatMap((line) => (line ? [line] : []));
  t.equal(logged.length, lines.length, 'every line the server logged is JSON');
  const of = (event: string) => logged.filter((line) => line.event === event);

  const workflows = of('workflow');
  t.same(workflows.map(({ status }) => status), ['active', 'finished'], 'the run started and finished');
  const workflowId = workflows[0]!['workflowId'];
  for (const line of workflows) t.match(line, { tenant: 'team', workflowId: /^wf-/, name: 'chain' });
  t.ok(of('lease').some((line) => line['status'] === 'ready'), 'a node came up');
  for (const line of of('lease')) t.match(line, { tenant: 'team', pool: 'default', nodeId: /^node-/ }, `lease ${line['status']}`);
  const attempts = of('attempt');
  t.equal(attempts.length, 3, 'a line per attempt');
  for (const line of attempts) t.match(line, { tenant: 'team', workflowId, opId: /\w/, attemptId: /^at-/, nodeId: /^node-/, attempt: 1, ok: true, runMs: Number });
  const ops = of('op');
  t.same(ops.map(({ state }) => state), ['succeeded', 'succeeded', 'succeeded'], 'a line per op');
  for (const line of ops) t.match(line, { tenant: 'team', workflowId, opId: /\w/, opName: 'step' });
  t.match(of('auth-failed'), [{ msg: /credential was refused/ }], 'the refused token is logged');

  // The node-agents the server started log JSON lines too, which it relays into its own.
  const agent = of('node-agent');
  const nodeId = of('lease')[0]!['nodeId'];
  t.ok(agent.length > 0 && agent.every((line) => line['nodeId'] === nodeId && line['service'] === 'lzy-server' && typeof line['agentPid'] === 'number'), 'the node-agent’s lines, each with its node’s id');
  t.match(agent.find((line) => line.msg === 'registered'), { server: url, slots: 2 }, 'its node registered');
  t.match(agent.find((line) => line.msg === 'leased'), { tenant: 'team' }, 'and was leased to the tenant');
  const started = agent.filter((line) => line.msg === 'attempt started');
  t.equal(started.length, 3, 'it started each attempt');
  for (const line of [...started, ...agent.filter((line) => line.msg === 'attempt ended')]) t.match(line, { tenant: 'team', attemptId: /^at-/ }, line.msg);

  const text = stderr.join('\n');
  t.notOk(text.includes(token) || text.includes(admin) || text.includes('wrong-token-of-nobody'), 'no token is logged');
  t.same(findSecrets('server log', stderr), [], 'the secret scan finds nothing');
});
