// Programs in one folder share its data dir: one runtime serves them all, and a run never stops
// because another program in the folder ended. Each program is a real process (fixtures/folder-script).
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { lzy, runs, startFixture, tempDir, waitUntil, type CliResult, type Child, type Teardown } from './harness.js';

const NOBODY = { uid: 65534, gid: 65534 };

/** A data dir and a folder for the ops' run counts, and the environment programs share them with. */
function folder(t: Teardown) {
  const dataDir = tempDir(t);
  const dir = tempDir(t);
  return { dataDir, dir, env: { LZY_HOME: dataDir, LZY_TEST_DIR: dir } };
}

function script(t: Teardown, env: NodeJS.ProcessEnv, name: string, flags: string[] = []): Child {
  return startFixture(t, 'folder-script', [name, ...flags], env);
}

const endOf = (child: Child) => child.waitForLine((line) => line.startsWith('result ') || line.startsWith('error '), 'the script to end its run', 90_000);
const workflowOf = async (child: Child) => (await child.waitForLine((line) => line.startsWith('workflow '), 'the run to start', 60_000)).slice(9);

/** The pid of the process whose runtime holds `dataDir`, as its `runtime.json` says; undefined when none does. */
function holderPid(dataDir: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

/** Every file and folder under `dir` with its size and modification time: equal snapshots mean nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const stat = statSync(join(dir, name));
    entries[name] = `${stat.isDirectory() ? 'dir' : stat.size} ${stat.mtimeMs}`;
  }
  return entries;
}

t.test('two scripts started at the same moment in one folder both finish, and both runs are listed with their output', async (t) => {
  const { dataDir, dir, env } = folder(t);
  const a = script(t, env, 'A', ['--barrier', '--gated']);
  const b = script(t, env, 'B', ['--barrier', '--gated']);
  writeFileSync(join(dir, 'start.go'), '');
  await waitUntil(() => runs(dir, 'A-b') === 1 && runs(dir, 'B-b') === 1, 'both runs to be in their middle op at once', 90_000);
  writeFileSync(join(dir, 'A-b.go'), '');
  writeFileSync(join(dir, 'B-b.go'), '');
  t.equal(await endOf(a), 'result 3');
  t.equal(await endOf(b), 'result 3');
  t.same(await a.exited, { code: 0, signal: null });
  t.same(await b.exited, { code: 0, signal: null });
  t.equal(holderPid(dataDir), undefined, 'the last program to close let go of the data dir');

  const ids = { A: await workflowOf(a), B: await workflowOf(b) };
  const status = await lzy(['status', '--json'], env);
  t.equal(status.code, 0, status.stderr);
  const listed = (JSON.parse(status.lines.at(-1)!) as { workflowId: string; name: string; status: string }[]).map((run) => [run.workflowId, run.name, run.status]);
  t.same(listed.sort(), [[ids.A, 'A', 'finished'], [ids.B, 'B', 'finished']].sort(), 'both runs are recorded, finished');
  for (const id of Object.values(ids)) {
    const logs = await lzy(['logs', id], env);
    t.equal(logs.code, 0, logs.stderr);
    t.match(logs.stdout, /line 0\n[^]*line 1\n[^]*after go\n/, `run ${id} kept its ops' output`);
  }
  for (const op of ['A-a', 'A-c', 'B-a', 'B-c']) t.equal(runs(dir, op), 1, `op ${op} ran once`);
});

/** A script whose runtime holds the folder (its run done), and a second script that joined it, now in its run's middle op. */
async function holderAndJoined(t: Test) {
  const { dataDir, dir, env } = folder(t);
  const first = script(t, env, 'A', ['--hold']);
  t.equal(await endOf(first), 'result 3');
  t.equal(holderPid(dataDir), first.process.pid);
  const second = script(t, env, 'B', ['--gated']);
  await waitUntil(() => runs(dir, 'B-b') === 1, "the second program's run to be in its middle op", 60_000);
  // Op a runs beside op b: only once its success is recorded may the test expect it not to run again.
  const id = await workflowOf(second);
  await waitUntil(async () => {
    const status = await lzy(['status', id, '--json'], env);
    return status.code === 0 && (JSON.parse(status.lines.at(-1)!) as { counts: { succeeded: number } }).counts.succeeded === 1;
  }, "op a of the second program's run to succeed", 60_000);
  t.equal(holderPid(dataDir), first.process.pid, 'the second program joined the runtime of the first');
  return { dataDir, dir, first, second };
}

/** The first script is gone: the second takes the data dir over, and its run finishes without running op a again. */
async function joinedFinishes(t: Test, { dataDir, dir, second }: Awaited<ReturnType<typeof holderAndJoined>>): Promise<void> {
  await waitUntil(() => holderPid(dataDir) === second.process.pid, 'the second program to take the data dir over', 60_000);
  writeFileSync(join(dir, 'B-b.go'), '');
  t.equal(await endOf(second), 'result 3');
  t.same(await second.exited, { code: 0, signal: null });
  t.equal(runs(dir, 'B-a'), 1, 'op a, which had succeeded, did not run again');
  t.equal(runs(dir, 'B-c'), 1);
}

t.test('when the program that runs the runtime finishes first, the run of a program that joined it still finishes', async (t) => {
  const folder = await holderAndJoined(t);
  writeFileSync(join(folder.dir, 'A.exit'), '');
  t.same(await folder.first.exited, { code: 0, signal: null }, 'the first program closed and exited');
  await joinedFinishes(t, folder);
});

t.test('when the program that runs the runtime is SIGKILLed, a joined program takes over and its run finishes without rerunning what succeeded', async (t) => {
  const folder = await holderAndJoined(t);
  folder.first.process.kill('SIGKILL');
  await folder.first.exited;
  await joinedFinishes(t, folder);
});

t.test('lzy status, logs and whiteboards in the folder of a running script show its run, through its runtime', async (t) => {
  const { dataDir, dir, env } = folder(t);
  const running = script(t, env, 'S', ['--board', '--gated']);
  const id = await workflowOf(running);
  await waitUntil(() => runs(dir, 'S-b') === 1, 'the run to be in its middle op', 60_000);
  const holder = running.process.pid;
  t.equal(holderPid(dataDir), holder);
  const unchanged = (command: string) => {
    t.equal(holderPid(dataDir), holder, `after lzy ${command}, the script's runtime still holds the data dir`);
    // A second runtime would have resumed the active run and started its middle op again.
    t.equal(runs(dir, 'S-b'), 1, `after lzy ${command}, the run's middle op has started once`);
  };

  const status = await lzy(['status', '--json'], env);
  t.equal(status.code, 0, status.stderr);
  const listed = (JSON.parse(status.lines.at(-1)!) as { workflowId: string; name: string; status: string }[]).map((run) => [run.name, run.status]);
  t.same(listed.sort(), [['S', 'active'], ['S-board', 'finished']]);
  unchanged('status');

  const logs = await lzy(['logs', id], env);
  t.equal(logs.code, 0, logs.stderr);
  t.match(logs.stdout, /line 0\n[^]*line 1\n/);
  unchanged('logs');

  const boards = await lzy(['whiteboards', '--name', 'folder', '--json'], env);
  t.equal(boards.code, 0, boards.stderr);
  t.match(JSON.parse(boards.lines.at(-1)!), [{ name: 'folder', tags: ['S'], fields: { value: 1 } }]);
  unchanged('whiteboards');

  writeFileSync(join(dir, 'S-b.go'), '');
  t.equal(await endOf(running), 'result 3');
  t.same(await running.exited, { code: 0, signal: null });
});

t.test('a runtime of another version holding the folder: a clear error, and nothing is written', async (t) => {
  const { dataDir, env } = folder(t);
  const holder = script(t, env, 'S', ['--idle', '--hold']);
  await holder.waitForLine((line) => line === 'open', 'the holder to start');
  const info = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as { version: string };
  writeFileSync(join(dataDir, 'runtime.json'), JSON.stringify({ ...info, version: '0.0.0-other' }));
  const before = snapshot(dataDir);

  const status = await lzy(['status'], env);
  t.equal(status.code, 1, status.stderr);
  expectInUse(t, status, dataDir, holder.process.pid!, /runs @lzy\/runtime 0\.0\.0-other/);
  const other = script(t, env, 'T');
  const line = await other.waitForLine((l) => l.startsWith('error '), 'the second script to fail');
  t.match(line, `the data dir ${dataDir} is in use by the runtime of process ${holder.process.pid}`);
  t.match(line, /runs @lzy\/runtime 0\.0\.0-other[^]*LZY_HOME[^]*`lzy server`[^]*Lzy\.connect/);
  t.same(await other.exited, { code: 1, signal: null });
  t.same(snapshot(dataDir), before, 'nothing was written in the data dir');
});

t.test("another user's runtime holding the folder: a clear error, and nothing is written", { skip: process.getuid?.() !== 0 && 'needs root, to run lzy as another user' }, async (t) => {
  const { dataDir, env } = folder(t);
  chmodSync(dataDir, 0o755); // another user may look in, as in a shared folder; the socket stays 0600
  const holder = script(t, env, 'S', ['--idle', '--hold']);
  await holder.waitForLine((line) => line === 'open', 'the holder to start');
  const before = snapshot(dataDir);

  const status = await lzy(['status'], env, 60_000, NOBODY);
  t.equal(status.code, 1, status.stderr);
  expectInUse(t, status, dataDir, holder.process.pid!, /belongs to another user/);
  t.same(snapshot(dataDir), before, 'nothing was written in the data dir');
});

function expectInUse(t: Test, result: CliResult, dataDir: string, pid: number, why: RegExp): void {
  const [error, hint] = result.stderr.trimEnd().split('\n').slice(-2);
  t.ok(error?.startsWith(`lzy: error: the data dir ${dataDir} is in use by the runtime of process ${pid}, which this program cannot join: `), error ?? 'no error line');
  t.match(error, why);
  t.equal(hint, 'hint: set LZY_HOME to another folder for a separate runtime, or run `lzy server` and pass --endpoint');
}
