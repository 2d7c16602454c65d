// `lzy logs` and `lzy whiteboards` against a live server: what ops printed, replayed or followed,
// and whiteboards read back by a process that has none of the op modules.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fixture, lzy, runs, startServer, tempDir, waitUntil } from './harness.js';

const server = await startServer(t);
const env = { LZY_ENDPOINT: server.url, LZY_TOKEN: server.adminToken };

async function runId(name: string, status: string): Promise<string> {
  const list = JSON.parse((await lzy(['status', '--json'], env)).lines.at(-1)!) as Array<{ workflowId: string; name: string; status: string }>;
  const run = list.find((r) => r.name === name && r.status === status);
  if (!run) throw new Error(`no ${status} run named ${name} in ${JSON.stringify(list)}`);
  return run.workflowId;
}

const expected = [...Array.from({ length: 20 }, (_, i) => `line ${i}`), 'after go'];

t.test("lzy logs --follow prints an op's output as it comes and ends with the run; lzy logs replays it later", async (t) => {
  const dir = tempDir(t);
  const running = lzy(['run', fixture('chatty-program')], { ...env, LZY_TEST_DIR: dir });
  await waitUntil(() => runs(dir, 'talk') === 1, 'op chatty to start', 60_000);
  const workflowId = await runId('chatty', 'active');
  const follow = lzy(['logs', workflowId, '--follow'], env);
  writeFileSync(join(dir, 'talk.go'), '');
  const [run, followed] = await Promise.all([running, follow]);
  t.equal(run.code, 0, run.stderr);
  t.equal(followed.code, 0, followed.stderr);
  const prefix = followed.lines[0]!.slice(0, followed.lines[0]!.indexOf(']') + 1);
  t.match(prefix, /^\[chatty#[0-9a-f]{8}\]$/, 'each line names the op and its id');
  t.same(followed.lines, expected.map((line) => `${prefix} ${line}`), 'every line, in order, once');

  const replay = await lzy(['logs', workflowId], env);
  t.equal(replay.code, 0, replay.stderr);
  t.same(replay.lines, followed.lines, 'the replay shows the same');
});

t.test('lzy logs of an unknown run fails with a hint', async (t) => {
  const result = await lzy(['logs', 'wf-nope'], env);
  t.equal(result.code, 1);
  t.match(result.stderr, /lzy: error: .*no workflow wf-nope[\s\S]*hint: `lzy status` lists the runs of your tenant/);
});

t.test('lzy whiteboards finds whiteboards by tag and prints their values, without the op modules', async (t) => {
  const dir = tempDir(t);
  const tag = `tag-${process.pid}`;
  const run = await lzy(['run', fixture('whiteboard-program')], { ...env, LZY_TEST_DIR: dir, LZY_TEST_TAG: tag });
  t.equal(run.code, 0, run.stderr);

  const found = await lzy(['whiteboards', '--tag', 'cli', '--tag', tag, '--json'], env);
  t.equal(found.code, 0, found.stderr);
  const boards = JSON.parse(found.lines.at(-1)!) as Array<{ name: string; tags: string[]; workflowName: string; fields: Record<string, unknown> }>;
  t.equal(boards.length, 1);
  t.match(boards[0], { name: 'report', tags: ['cli', tag], workflowName: 'report', fields: { answer: 42, summary: { ok: true, counts: { a: '1' } } } });

  const table = await lzy(['whiteboards', '--name', 'report', '--tag', tag], env);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, new RegExp(`^report \\[cli, ${tag}\\] .* workflow report \\(wf-`));
  t.match(table.stdout, /\n {2}answer: 42\n/);

  const none = await lzy(['whiteboards', '--tag', `${tag}-other`, '--json'], env);
  t.same(JSON.parse(none.lines.at(-1)!), []);
  const future = await lzy(['whiteboards', '--tag', tag, '--since', '2999-01-01', '--json'], env);
  t.same(JSON.parse(future.lines.at(-1)!), []);

  const bad = await lzy(['whiteboards', '--since', 'last tuesday'], env);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /lzy: error: --since last tuesday is not a time\nhint: /);
});
