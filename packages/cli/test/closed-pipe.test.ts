// Every `lzy` command that prints, piped into a reader that leaves early (`| head -1`, `| head -c
// 10`, a reader gone before the first write): it exits 0 and prints no error, however much output
// it still had. The outputs are larger than a pipe holds, so the reader is gone before the writer
// is done.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Lzy } from '@lzy/sdk';
import { fixture, lzy, startServer, tempDir, waitUntil } from './harness.js';

const bin = fileURLToPath(new URL('../../bin/lzy.js', import.meta.url));

/** How a command ended whose stdout went to a reader that left early. */
interface Piped {
  code: number | null;
  /** What the reader passed on. */
  read: string;
  stderr: string;
}

/** Runs `lzy ...args | READER` in bash, with real pipes and a real `head`; `code` is lzy's exit code. */
async function piped(reader: string, args: string[], env: NodeJS.ProcessEnv = {}, options: { stderrToo?: boolean } = {}): Promise<Piped> {
  const script = `"$0" "$@" ${options.stderrToo ? '2>&1 ' : ''}| ${reader}; exit \${PIPESTATUS[0]}`;
  const child = spawn('bash', ['-c', script, process.execPath, bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let read = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (read += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, read, stderr };
}

/** Runs `lzy ...args` with its stdout a pipe whose reader is gone before it starts. */
async function readerGone(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Omit<Piped, 'read'>> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stderr };
}

/** What a crash on a closed pipe leaves on stderr. */
const CRASH = /EPIPE|Error|\n\s+at /;

const server = await startServer(t);
const env = { LZY_ENDPOINT: server.url, LZY_TOKEN: server.adminToken };
const tag = `loud-${process.pid}`;

let workflowId = '';
// One finished run with more logs, whiteboard fields and result than a pipe holds.
t.before(async () => {
  const loud = await lzy(['run', fixture('loud-program')], { ...env, LZY_TEST_TAG: tag });
  if (loud.code !== 0) throw new Error(`the loud run failed: ${loud.stderr}`);
  const listed = JSON.parse((await lzy(['status', '--json'], env)).lines.at(-1)!) as Array<{ workflowId: string; name: string }>;
  workflowId = listed.find((run) => run.name === 'loud')!.workflowId;
});

t.test('lzy logs WORKFLOW | head -1 prints the first line and exits 0 quietly', async (t) => {
  const result = await piped('head -1', ['logs', workflowId], env);
  t.equal(result.code, 0);
  t.equal(result.stderr, '');
  t.match(result.read, /^\[shout#[0-9a-f]{8}\] line 0: lorem ipsum/);
  t.equal(result.read.split('\n').length, 2, 'one line');
});

t.test('lzy run FILE | head -1 exits 0 without a stack trace, also with its progress in the pipe (2>&1)', async (t) => {
  const stdout = await piped('head -1', ['run', fixture('loud-program')], { ...env, LZY_TEST_TAG: `${tag}-again` });
  t.equal(stdout.code, 0);
  t.notMatch(stdout.stderr, CRASH);
  t.match(stdout.read, /^the program's line 0: /);

  const both = await piped('head -1', ['run', fixture('loud-program')], { ...env, LZY_TEST_TAG: `${tag}-both` }, { stderrToo: true });
  t.equal(both.code, 0);
  t.equal(both.stderr, '');
});

t.test('lzy whiteboards | head -1 and lzy whiteboards --json | head -c 10 exit 0 quietly', async (t) => {
  const table = await piped('head -1', ['whiteboards', '--tag', tag], env);
  t.equal(table.code, 0);
  t.equal(table.stderr, '');
  t.match(table.read, new RegExp(`^loud \\[${tag}\\] `));

  const json = await piped('head -c 10', ['whiteboards', '--tag', tag, '--json'], env);
  t.equal(json.code, 0);
  t.equal(json.stderr, '');
  t.match(json.read, /^\[\{"id":"..$/, 'the first ten bytes of the JSON');
});

t.test('lzy status | head -1 and lzy status --json | head -c 10 exit 0 quietly, on the embedded runtime', async (t) => {
  // Enough runs that the list is larger than a pipe holds.
  const dataDir = tempDir(t);
  const embedded = await Lzy.start({ dataDir });
  for (let i = 0; i < 400; i++) await embedded.workflow(`run ${i} `.padEnd(250, '.'), async () => i);
  await embedded.close();

  const table = await piped('head -1', ['status', '--limit', '1000'], { LZY_HOME: dataDir });
  t.equal(table.code, 0);
  t.equal(table.stderr, '');
  t.match(table.read, /^WORKFLOW\s+NAME/);

  const json = await piped('head -c 10', ['status', '--json', '--limit', '1000'], { LZY_HOME: dataDir });
  t.equal(json.code, 0);
  t.equal(json.stderr, '');
  t.equal(json.read, '[{"workflo');

  const after = await lzy(['status', '--json', '--limit', '1000'], { LZY_HOME: dataDir });
  t.equal(after.code, 0, 'the data dir serves the next command');
  t.equal((JSON.parse(after.lines.at(-1)!) as unknown[]).length, 400);
});

t.test('one-line commands whose reader is gone before they print exit 0 quietly: token create, cancel, --help', async (t) => {
  for (const args of [['token', 'create', '--tenant', 'piped'], ['cancel', workflowId], ['--help'], ['status', '--help']]) {
    const result = await readerGone(args, env);
    t.equal(result.code, 0, `lzy ${args.join(' ')}`);
    t.equal(result.stderr, '', `lzy ${args.join(' ')}`);
  }
});

t.test('lzy server whose reader is gone goes on serving', async (t) => {
  const port = await freePort();
  const dataDir = tempDir(t);
  const child = spawn(process.execPath, [bin, 'server', '--port', String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  const tokenFile = join(dataDir, 'admin.token');
  await waitUntil(() => existsSync(tokenFile), 'the admin token', 30_000);
  const flags = ['--endpoint', `ws://127.0.0.1:${port}`, '--token', readFileSync(tokenFile, 'utf8').trim()];
  await waitUntil(async () => (await lzy(['status', ...flags])).code === 0, 'the server to answer', 30_000);
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.equal(code, 0, 'it stopped on SIGTERM, not before');
  t.notMatch(stderr, CRASH);
});

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
}
