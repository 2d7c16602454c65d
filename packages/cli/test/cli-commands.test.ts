import t from 'tap';
import { fixture, lzy, runs, startServer, tempDir, waitUntil } from './harness.js';

const server = await startServer(t);
/** Client commands find the server through the environment, as users set it up. */
const env = { LZY_ENDPOINT: server.url, LZY_TOKEN: server.adminToken };
const flags = ['--endpoint', server.url, '--token', server.adminToken];

t.test('lzy run prints progress on stderr and the result as JSON on the last line of stdout', async (t) => {
  const dir = tempDir(t);
  const run = await lzy(['run', fixture('chain-program')], { ...env, LZY_TEST_DIR: dir });
  t.equal(run.code, 0, run.stderr);
  t.same(JSON.parse(run.lines.at(-1)!), { c: 3, tenant: 'admin' });
  t.match(run.stderr, /lzy: chain: 3\/3 ops done, 0 running, 0 waiting, finished/);
  t.equal(runs(dir, 'c'), 1);
});

t.test('lzy status lists the runs, --json parses, and one run shows by its id', async (t) => {
  const run = await lzy(['run', fixture('chain-program'), ...flags], { LZY_TEST_DIR: tempDir(t) });
  t.equal(run.code, 0, run.stderr);
  const list = await lzy(['status', '--json', ...flags]);
  t.equal(list.code, 0, list.stderr);
  const runsListed = JSON.parse(list.lines.at(-1)!) as Array<{ workflowId: string; name: string; status: string }>;
  const chain = runsListed.find((r) => r.name === 'chain');
  t.match(chain, { status: 'finished' });

  const table = await lzy(['status', ...flags]);
  t.equal(table.code, 0);
  t.match(table.lines[0], /^WORKFLOW\s+NAME\s+STATUS\s+STARTED\s+DURATION$/);
  t.ok(table.lines.some((line) => line.startsWith(chain!.workflowId) && / finished /.test(line)));

  const page = await lzy(['status', '--limit', '1', ...flags]);
  t.equal(page.code, 0, page.stderr);
  t.ok(page.lines[1]!.startsWith(runsListed.at(-1)!.workflowId), 'a page of one lists the newest run');
  const older = runsListed.length - 1;
  t.equal(page.lines.at(-1), `${older} older run${older === 1 ? '' : 's'} not listed: \`lzy status --skip 1\` lists the next ones`, 'and says how many it left out');

  const one = await lzy(['status', chain!.workflowId, '--json'], env);
  t.match(JSON.parse(one.lines.at(-1)!), { workflowId: chain!.workflowId, name: 'chain', status: 'finished' });
});

t.test('lzy cancel stops a running workflow, and its lzy run fails with exit code 1', async (t) => {
  const dir = tempDir(t);
  const running = lzy(['run', fixture('gated-program')], { ...env, LZY_TEST_DIR: dir });
  await waitUntil(() => runs(dir, 'b') === 1, 'op b to start', 60_000);
  const list = JSON.parse((await lzy(['status', '--json'], env)).lines.at(-1)!) as Array<{ workflowId: string; name: string; status: string }>;
  const gated = list.find((r) => r.name === 'gated' && r.status === 'active')!;

  const cancel = await lzy(['cancel', gated.workflowId], env);
  t.equal(cancel.code, 0, cancel.stderr);
  t.equal(cancel.lines.at(-1), `${gated.workflowId} cancelled`);
  const run = await running;
  t.equal(run.code, 1);
  t.match(run.stderr, /lzy: error: workflow cancelled: cancelled with lzy cancel/);
  t.equal(run.stdout, '', 'no result');
});

t.test('lzy token create: the admin issues a tenant token; other tokens may not', async (t) => {
  const created = await lzy(['token', 'create', '--tenant', 'bob', ...flags]);
  t.equal(created.code, 0, created.stderr);
  const bob = created.lines.at(-1)!;
  t.match(bob, /^lzy_/);
  const bobs = await lzy(['status', '--json', '--endpoint', server.url, '--token', bob]);
  t.same(JSON.parse(bobs.lines.at(-1)!), [], 'bob sees none of the admin tenant runs');

  const refused = await lzy(['token', 'create', '--tenant', 'eve', '--endpoint', server.url, '--token', bob]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^lzy: error: tokens\.issue needs the owner role in tenant eve; subject token:[0-9a-f]{16} has owner in tenant bob\nhint: .*lzy roles grant.*admin\.token/);
});

t.test('errors are one line plus a hint, exit code 2 for usage and 1 for failures', async (t) => {
  const cases: Array<[string, string[], NodeJS.ProcessEnv, number, RegExp]> = [
    ['an unknown command', ['bogus'], {}, 2, /^lzy: error: unknown command 'bogus'\nhint: /],
    ['a missing option value', ['status', '--endpoint'], {}, 2, /^lzy: error: option '--endpoint <url>' argument missing\nhint: /],
    ['an endpoint without a token', ['status', '--endpoint', server.url], {}, 2, /^lzy: error: a token is needed .*\nhint: .*LZY_TOKEN/],
    ['a file that is not there', ['run', 'nowhere.js'], env, 2, /^lzy: error: no such file: nowhere\.js\nhint: /],
    ['a module without a default function', ['run', fixture('not-a-program')], env, 2, /has no default export function\nhint: /],
    ['an op that fails', ['run', fixture('failing-program')], env, 1, /\nlzy: error: op fails failed \(attempt 1, USER_ERROR\): RangeError: no good input\nhint: /],
    ['a bad token', ['status', '--endpoint', server.url, '--token', 'lzy_wrong'], {}, 1, /^lzy: error: .*refused the token: unknown token\nhint: /],
    ['an unknown run', ['status', 'wf-nope'], env, 1, /^lzy: error: no workflow wf-nope\nhint: /],
  ];
  for (const [what, args, extra, code, stderr] of cases) {
    const result = await lzy(args, { LZY_ENDPOINT: '', LZY_TOKEN: '', ...extra });
    t.equal(result.code, code, `${what}: exit code`);
    t.match(result.stderr, stderr, `${what}: message and hint`);
  }
});

t.test('without an endpoint, lzy run and lzy status use the embedded runtime under LZY_HOME', async (t) => {
  const home = tempDir(t);
  const local = { LZY_ENDPOINT: '', LZY_TOKEN: '', LZY_HOME: home, LZY_TEST_DIR: tempDir(t) };
  const run = await lzy(['run', fixture('chain-program')], local);
  t.equal(run.code, 0, run.stderr);
  t.same(JSON.parse(run.lines.at(-1)!), { c: 3, tenant: 'local' });
  const status = await lzy(['status', '--json'], local);
  t.equal(status.code, 0, status.stderr);
  t.match(JSON.parse(status.lines.at(-1)!), [{ name: 'chain', status: 'finished' }]);
});
