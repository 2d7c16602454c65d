// Roles on every call of a shared runtime, and what a user of another tenant gets: one `lzy server`
// for the whole file, with one finished and one active run of tenant acme that every subtest checks.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { WorkflowEvent, WorkflowInfo } from '@lzy/runtime';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { chatty, step } from './fixtures/ops.js';
import { lzy, startServer, tempDir, waitUntil, type CliResult, type Teardown } from './harness.js';

const server = await startServer(t);
const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
t.teardown(() => admin.close());
const acmeToken = await admin.issueToken('acme');
const bravoToken = await admin.issueToken('bravo');

/** `lzy ARGS` against the server, with `token`. */
const as = (token: string, ...args: string[]): Promise<CliResult> => lzy([...args, '--endpoint', server.url, '--token', token]);

async function connection(t: Teardown, token: string): Promise<RemoteConnection> {
  const client = await RemoteConnection.open({ endpoint: server.url, token });
  t.teardown(() => client.close());
  return client;
}

// Acme's runs: one finished with a whiteboard, one active, its op waiting after 20 lines of log; and a blob.
const dir = tempDir(t);
const acme = await Lzy.connect({ endpoint: server.url, token: acmeToken, onLog: () => {} });
await acme.workflow('report', async (wf) => {
  wf.whiteboard('report', { tags: ['roles'] }).answer = step(dir, 'answer', 41);
});
let workflowId = '';
const active = acme.workflow('chatty', async (wf) => {
  workflowId = wf.id;
  return chatty(dir, 'talk', 20);
});
// Checked by the last subtest; a subtest that breaks the run must not end the file.
active.catch(() => {});
const acmeConnection = await connection(t, acmeToken);
await waitUntil(async () => workflowId !== '' && (await acmeConnection.logs(workflowId, 0, 100, 0)).entries.length === 20, "acme's op to print its 20 lines");
const blob = await acmeConnection.putBlob('wf-test', Buffer.from('acme only'));
const before = await acmeView();
// Whatever a subtest did, the op is let go and acme's client closed (the last subtest checks the run's result).
t.teardown(() => {
  writeFileSync(join(dir, 'talk.go'), '');
  return acme.close();
});

/** What acme sees of its active run, its whiteboards and its blob. */
async function acmeView(): Promise<unknown> {
  const { run, counts, ops } = await acmeConnection.describe(workflowId, 0, 100);
  const logs = await acmeConnection.logs(workflowId, 0, 100, 0);
  const boards = await acmeConnection.whiteboards({});
  return { status: run.status, counts, ops: ops.map(({ opId, state }) => ({ opId, state })), logs: logs.entries.length, boards: boards.length, blob: (await acmeConnection.getBlob(blob)).toString() };
}

const UNCHANGED = "acme's run, logs, whiteboards and blob are unchanged";

/** What a user of tenant bravo gets for acme's run, as for a missing one: `lzy` exits 1 saying there is no such run. */
const noSuchRun = () => ({ code: 1, stderr: `lzy: error: no workflow ${workflowId}\n` });

t.test("a user of another tenant does not see the run in `lzy status`'s list", async (t) => {
  const listed = await as(bravoToken, 'status', '--json');
  t.equal(listed.code, 0, listed.stderr);
  t.same(JSON.parse(listed.lines.at(-1)!), [], 'bravo lists none');
  const bravo = await connection(t, bravoToken);
  t.same((await bravo.list()).runs, [], 'nor does its connection');
  t.ok((await acmeConnection.list()).runs.some((run: WorkflowInfo) => run.workflowId === workflowId), 'acme lists it');
  t.same(await acmeView(), before, UNCHANGED);
});

t.test("a user of another tenant gets `no workflow` for the run's status", async (t) => {
  t.match(await as(bravoToken, 'status', workflowId), noSuchRun(), '`lzy status WORKFLOW`');
  const bravo = await connection(t, bravoToken);
  await t.rejects(bravo.describe(workflowId, 0, 10), { code: 'NOT_FOUND' }, 'describe: NOT_FOUND, never FORBIDDEN');
  t.same(await acmeView(), before, UNCHANGED);
});

t.test("a user of another tenant gets `no workflow` for the run's logs", async (t) => {
  t.match(await as(bravoToken, 'logs', workflowId), noSuchRun(), '`lzy logs WORKFLOW`');
  const bravo = await connection(t, bravoToken);
  await t.rejects(bravo.logs(workflowId, 0, 100, 0), { code: 'NOT_FOUND' }, 'logs: NOT_FOUND, never FORBIDDEN');
  t.same(await acmeView(), before, UNCHANGED);
});

t.test('a user of another tenant cannot cancel the run', async (t) => {
  t.match(await as(bravoToken, 'cancel', workflowId), noSuchRun(), '`lzy cancel WORKFLOW`');
  const bravo = await connection(t, bravoToken);
  await t.rejects(bravo.cancel(workflowId, 'intruder'), { code: 'NOT_FOUND' }, 'cancel: NOT_FOUND, never FORBIDDEN');
  t.same(await acmeView(), before, UNCHANGED);
});

t.test('a user of another tenant cannot attach to the run', async (t) => {
  const bravo = await Lzy.connect({ endpoint: server.url, token: bravoToken, onLog: () => {} });
  t.teardown(() => bravo.close());
  const heard: WorkflowEvent[] = [];
  await t.rejects(bravo.attach(workflowId, { onEvent: (event) => heard.push(event) }), { code: 'NOT_FOUND', message: `no workflow ${workflowId}` });
  t.notOk(
    heard.some((event) => event.type === 'op-log' || event.type === 'progress'),
    'it heard nothing of the run',
  );
  t.same(await acmeView(), before, UNCHANGED);
});

t.test("a user of another tenant finds none of the tenant's whiteboards", async (t) => {
  const found = await as(bravoToken, 'whiteboards', '--json');
  t.equal(found.code, 0, found.stderr);
  t.same(JSON.parse(found.lines.at(-1)!), [], '`lzy whiteboards` finds none');
  const bravo = await connection(t, bravoToken);
  t.same(await bravo.whiteboards({ tags: ['roles'] }), [], 'nor does its connection, by tag');
  t.equal((await acmeConnection.whiteboards({ tags: ['roles'] })).length, 1, 'acme finds its own');
  t.same(await acmeView(), before, UNCHANGED);
});

t.test("a user of another tenant cannot read the tenant's blobs", async (t) => {
  const bravo = await connection(t, bravoToken);
  await t.rejects(bravo.getBlob(blob), { code: 'NOT_FOUND', message: `no blob ${blob.uri}` }, 'NOT_FOUND, never FORBIDDEN, and no server path');
  t.same(await acmeView(), before, UNCHANGED);
});

t.test('a viewer reads the runs, logs, whiteboards and blobs of its tenant, but may not run or cancel', async (t) => {
  const issued = await as(server.adminToken, 'token', 'create', '--tenant', 'acme', '--role', 'viewer');
  t.equal(issued.code, 0, issued.stderr);
  const viewer = await connection(t, issued.lines.at(-1)!);
  const me = await viewer.whoami();
  t.match(me, { id: /^token:[0-9a-f]{16}$/, tenant: 'acme', roles: ['viewer'] });

  t.ok((await viewer.list()).runs.some((run) => run.workflowId === workflowId), 'it lists the runs');
  t.match(await viewer.describe(workflowId, 0, 10), { run: { status: 'active' } }, 'it reads a run');
  t.equal((await viewer.logs(workflowId, 0, 100, 0)).entries.length, 20, 'it reads the logs');
  t.equal((await viewer.whiteboards({ tags: ['roles'] })).length, 1, 'it finds the whiteboards');
  t.equal((await viewer.getBlob(blob)).toString(), 'acme only', 'it reads the blobs');

  const forbidden = (permission: string, role: string) => ({
    code: 'FORBIDDEN',
    message: `${permission} needs the ${role} role in tenant acme; subject ${me.id} has viewer in tenant acme`,
  });
  await t.rejects(viewer.cancel(workflowId, 'a viewer'), forbidden('runs.cancel', 'member'), 'cancel');
  await t.rejects(viewer.startWorkflow('sneaky', () => {}), forbidden('runs.start', 'member'), 'start');
  await t.rejects(viewer.putBlob('wf-test', Buffer.from('sneaky')), forbidden('blobs.write', 'member'), 'a blob write');
  const cancel = await as(issued.lines.at(-1)!, 'cancel', workflowId);
  t.equal(cancel.code, 1);
  t.match(cancel.stderr, /^lzy: error: runs\.cancel needs the member role in tenant acme; subject token:[0-9a-f]{16} has viewer in tenant acme\nhint: `lzy whoami`/);
  t.same((await acmeConnection.list()).runs.filter((run) => run.name === 'sneaky'), [], 'no run was started');
  t.same(await acmeView(), before, UNCHANGED);
});

t.test('a role granted with `lzy roles grant` counts from the next call; revoked, it stops on the next call of the same connection', async (t) => {
  const viewer = await connection(t, await admin.issueToken('acme', 'viewer'));
  const { id } = await viewer.whoami();
  await t.rejects(viewer.putBlob('wf-test', Buffer.from('member work')), { code: 'FORBIDDEN' }, 'a viewer may not write');

  const granted = await as(acmeToken, 'roles', 'grant', '--tenant', 'acme', '--subject', id, '--role', 'member');
  t.equal(granted.code, 0, granted.stderr);
  t.equal(granted.stdout, `granted member to ${id} in tenant acme\n`);
  t.same((await viewer.whoami()).roles, ['viewer', 'member'], 'whoami shows the bound role');
  t.match(await viewer.putBlob('wf-test', Buffer.from('member work')), { uri: /^blob:/ }, 'the same connection writes now');
  const listed = await as(acmeToken, 'roles', 'ls', '--json');
  t.same(JSON.parse(listed.lines.at(-1)!), [{ tenant: 'acme', subject: id, role: 'member' }], '`lzy roles ls` lists the binding of its tenant');

  const revoked = await as(acmeToken, 'roles', 'revoke', '--tenant', 'acme', '--subject', id, '--role', 'member');
  t.equal(revoked.code, 0, revoked.stderr);
  await t.rejects(viewer.putBlob('wf-test', Buffer.from('more member work')), { code: 'FORBIDDEN', message: /^blobs\.write needs the member role/ }, 'the next write is refused');
  await t.rejects(viewer.startWorkflow('after revoke', () => {}), { code: 'FORBIDDEN', message: /^runs\.start needs the member role/ }, 'and so is a start');
  t.same((await viewer.whoami()).roles, ['viewer']);
  t.same(await acmeView(), before, UNCHANGED);
});

t.test('only an admin or an owner of the tenant manages its roles, and bad input gets a clear error', async (t) => {
  const memberToken = await admin.issueToken('acme', 'member');
  const member = await connection(t, memberToken);
  const { id } = await member.whoami();
  const grant = (token: string, tenant: string, subject: string, role: string) => as(token, 'roles', 'grant', '--tenant', tenant, '--subject', subject, '--role', role);
  const refusals: Array<[string, Promise<CliResult>, RegExp]> = [
    ['an owner of another tenant', grant(bravoToken, 'acme', id, 'viewer'), /^lzy: error: roles\.manage needs the owner role in tenant acme; subject token:\w+ has owner in tenant bravo\n/],
    ['a member', grant(memberToken, 'acme', id, 'viewer'), /^lzy: error: roles\.manage needs the owner role in tenant acme; subject token:\w+ has member in tenant acme\n/],
    ['an owner binding admin', grant(acmeToken, 'acme', id, 'admin'), /^lzy: error: roles\.manage needs the admin role; subject token:\w+ has owner in tenant acme\n/],
    ['a subject that is no id', grant(acmeToken, 'acme', 'alice', 'viewer'), /^lzy: error: "alice" is not a subject id: token:<16 hex>, client:<client id> or <issuer>#<subject>, as `lzy whoami` prints it\n/],
    ['a token given as the subject', grant(acmeToken, 'acme', acmeToken, 'viewer'), /^lzy: error: the subject given is a token, not a subject id: `lzy whoami` with that token prints its id\n/],
    ['a bad tenant name', grant(server.adminToken, 'Acme!', id, 'viewer'), /^lzy: error: bad tenant name "Acme!": lowercase letters, digits, \. _ -, up to 63\n/],
    ['an unknown role', grant(acmeToken, 'acme', id, 'boss'), /^lzy: error: option '--role <role>' argument 'boss' is invalid\. Allowed choices are admin, owner, member, viewer\./],
    ['an unbound role revoked', as(acmeToken, 'roles', 'revoke', '--tenant', 'acme', '--subject', id, '--role', 'owner'), new RegExp(`^lzy: error: subject ${id} has no owner role bound in tenant acme \\(bound: none; a role its credential carries is not a binding\\)\n`)],
    ["an owner of another tenant listing the tenant's roles", as(bravoToken, 'roles', 'ls', '--tenant', 'acme'), /^lzy: error: roles\.manage needs the owner role in tenant acme/],
  ];
  for (const [what, refused, stderr] of refusals) {
    const result = await refused;
    t.not(result.code, 0, `${what}: refused`);
    t.match(result.stderr, stderr, `${what}: says why`);
  }
  t.same((await member.whoami()).roles, ['member'], 'nothing was bound');

  const byAdmin = await grant(server.adminToken, 'acme', id, 'owner');
  t.equal(byAdmin.code, 0, byAdmin.stderr);
  const all = await as(server.adminToken, 'roles', 'ls', '--json');
  t.same(JSON.parse(all.lines.at(-1)!), [{ tenant: 'acme', subject: id, role: 'owner' }], "an admin's `lzy roles ls` lists every tenant's bindings");
  const whoami = await as(server.adminToken, 'whoami');
  t.match(whoami.stdout, /^token:[0-9a-f]{16} in tenant admin: admin\n$/, '`lzy whoami` prints the subject id, tenant and roles');
});

t.test("acme's run, touched by nobody else, finishes with its result", async (t) => {
  writeFileSync(join(dir, 'talk.go'), '');
  t.equal(await active, 20);
  t.match(await acmeConnection.describe(workflowId, 0, 10), { run: { status: 'finished' } });
});
