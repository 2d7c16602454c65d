import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { pack, unpackMultiple } from 'msgpackr';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, Remoting } from '@lzy/actors';
import { encodeValue, refFor } from '@lzy/node-agent/protocol';
import type { OpSpec, WorkflowEvent, WorkflowInfo } from '@lzy/runtime';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { big, lengthOf, nodeVersion, step } from './fixtures/ops.js';
import { fixture, lzy, runs, startServer, tempDir, waitUntil, type CliResult, type Teardown } from './harness.js';

const server = await startServer(t);
const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
t.teardown(() => admin.close());
const teamToken = await admin.issueToken('team');

async function connect(t: Teardown, token: string): Promise<Lzy> {
  const client = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => client.close());
  return client;
}

async function connection(t: Teardown, token: string): Promise<RemoteConnection> {
  const client = await RemoteConnection.open({ endpoint: server.url, token });
  t.teardown(() => client.close());
  return client;
}

/** A raw ws client that has passed the handshake with `token`; collects what the server sends. */
async function rawClient(t: Teardown, token: string) {
  const socket = new WebSocket(server.url);
  t.teardown(() => socket.terminate());
  const messages: Array<Record<string, unknown>> = [];
  socket.on('message', (data: Buffer) => messages.push(...(unpackMultiple(data) as Array<Record<string, unknown>>)));
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await once(socket, 'open');
  socket.send(pack({ t: 'hello', v: PROTOCOL_VERSION, name: 'raw', maxFrame: 1024 * 1024, auth: token }));
  while (messages.length === 0) await once(socket, 'message');
  return { socket, messages, closed };
}

t.test("two clients of one tenant see each other's workflows", async (t) => {
  const alice = await connect(t, teamToken);
  const bob = await connection(t, teamToken);
  const dir = tempDir(t);
  let workflowId = '';
  const result = await alice.workflow('shared', async (wf) => {
    workflowId = wf.id;
    return step(dir, 'a', 41);
  });
  t.equal(result, 42);
  t.equal(alice.tenant, 'team');
  t.match((await bob.list()).runs, [{ workflowId, name: 'shared', status: 'finished' }], "bob's connection lists alice's run");

  const status = await lzy(['status', workflowId, '--json', '--endpoint', server.url, '--token', teamToken]);
  t.equal(status.code, 0, status.stderr);
  t.match(JSON.parse(status.lines.at(-1)!), { workflowId, status: 'finished' }, '`lzy status` shows it too');
});

t.test("another tenant can neither see nor touch an active run, with `lzy` commands or its own connection", { timeout: 120_000 }, async (t) => {
  const aliceToken = await admin.issueToken('alice');
  const outsiderToken = await admin.issueToken('outsider');
  const as = (token: string, ...args: string[]) => lzy([...args, '--endpoint', server.url, '--token', token]);
  const json = async (token: string, ...args: string[]): Promise<unknown> => JSON.parse((await as(token, ...args, '--json')).lines.at(-1)!);
  // Alice's `lzy run` waits in op b until the outsider is done; its op c is submitted after that.
  const dir = tempDir(t);
  const running = lzy(['run', fixture('gated-program'), '--endpoint', server.url, '--token', aliceToken], { LZY_TEST_DIR: dir });
  await waitUntil(() => runs(dir, 'b') === 1, "op b of alice's run to start", 60_000);
  const [{ workflowId }] = (await json(aliceToken, 'status')) as [WorkflowInfo];
  const alice = await connection(t, aliceToken);
  const blob = await alice.putBlob('wf-test', Buffer.from('alice only'));
  t.same(await alice.getBlob(blob), Buffer.from('alice only'), 'alice reads her blob');

  const refused = (result: CliResult, what: string) => t.match(result, { code: 1, stderr: `no workflow ${workflowId}` }, what);
  refused(await as(outsiderToken, 'status', workflowId), '`lzy status WORKFLOW`');
  t.same(await json(outsiderToken, 'status'), [], '`lzy status` lists nothing');
  refused(await as(outsiderToken, 'logs', workflowId), '`lzy logs`');
  refused(await as(outsiderToken, 'cancel', workflowId), '`lzy cancel`');
  const outsider = await connection(t, outsiderToken);
  t.same((await outsider.list()).runs, [], 'the connection lists nothing');
  const heard: WorkflowEvent[] = [];
  outsider.watch(workflowId, (event) => heard.push(event));
  const value = (v: unknown) => ({ kind: 'value' as const, ref: refFor(encodeValue(v)) });
  // An op that leaves a count behind if it ever runs in alice's graph.
  const op: OpSpec = {
    id: 'intruder',
    name: 'step',
    module: pathToFileURL(fixture('ops')).href,
    exportName: 'step',
    args: [value(dir), value('intruder'), value(0)],
    retries: { max: 0, backoffMs: 0 },
    env: {},
  };
  await t.rejects(outsider.submit(workflowId, [op]), { code: 'NOT_FOUND' }, 'submit');
  const field = { whiteboardId: 'intruder', name: 'planted', tags: [], createdAt: 0, field: 'intruder', value: value(1) };
  await t.rejects(outsider.assign(workflowId, [field]), { code: 'NOT_FOUND' }, 'assign');
  await t.rejects(outsider.finish(workflowId), { code: 'NOT_FOUND' }, 'finish');
  await t.rejects(outsider.getBlob(blob), "alice's blob");

  t.match(await json(aliceToken, 'status', workflowId), { workflowId, status: 'active' }, "alice's run is still active");
  writeFileSync(join(dir, 'b.go'), '');
  const run = await running;
  t.equal(run.code, 0, run.stderr);
  t.equal(run.lines.at(-1), '3', 'alice gets her result');
  t.match(await json(aliceToken, 'status', workflowId), { workflowId, status: 'finished' });
  t.equal(runs(dir, 'intruder'), 0, "no op of another tenant ran in alice's run");
  const boards = (await json(aliceToken, 'whiteboards')) as Array<{ name: string; fields: object }>;
  t.same(
    boards.map(({ name, fields }) => ({ name, fields })),
    [{ name: 'gated', fields: { result: 3 } }],
    "alice's run stored its whiteboard, and no other was planted in it",
  );
  t.same(await json(outsiderToken, 'whiteboards'), [], '`lzy whiteboards` finds none');
  t.same((await outsider.list()).runs, []);
  // Watching it ends at once with the answer a missing run gets, and nothing of the run.
  t.same(
    heard.map((event) => event.type === 'workflow-ended' && event.status === 'failed' && /no workflow /.test(event.reason ?? '')),
    heard.map(() => true),
    'watching the run told the other tenant only that there is no such run',
  );
  t.ok(heard.length > 0, 'the watch was refused');
});

t.test('the server, its node-agents and their runners run on the Node that runs the tests', async (t) => {
  // scripts/test.mjs names the Node it runs the suite on; every process of the run must be that one.
  t.equal(process.version, process.env.LZY_TEST_NODE ?? process.version, 'this test file');
  const client = await connect(t, teamToken);
  t.same(await client.workflow('versions', async () => nodeVersion()), { version: process.version, execPath: process.execPath }, 'an op on a node of `lzy server`');
});

t.test('a client without a valid token is refused with a clear error', async (t) => {
  await t.rejects(Lzy.connect({ endpoint: server.url, token: 'lzy_forged' }), {
    code: 'UNAUTHENTICATED',
    message: /refused the token: unknown token/,
  });
  await t.rejects(Lzy.connect({ endpoint: server.url, token: '' }), { code: 'UNAUTHENTICATED', message: /no token given/ });
  await t.rejects(Lzy.connect({ endpoint: server.url, token: 'not-even-a-tenant-token' }), { code: 'UNAUTHENTICATED' });
});

t.test('a tenant token cannot address what only node-agents may', async (t) => {
  const remoting = new Remoting({ name: 'curious' });
  t.teardown(() => remoting.close());
  const peer = remoting.connect(server.url, { auth: teamToken });
  await peer.ready;
  await t.rejects(peer.ask('storage', { type: 'read', uri: `blob:${'0'.repeat(64)}`, offset: 0, length: 1 }, 5_000), { code: 'FORBIDDEN' });
  await t.rejects(peer.ask('nodes', { type: 'register', slots: 1, pid: 1 }, 5_000), { code: 'FORBIDDEN' });
});

t.test('a bad frame from a client gets a clear error and closes only its connection', async (t) => {
  const bystander = await connection(t, teamToken);

  const garbage = await rawClient(t, teamToken);
  t.match(garbage.messages, [{ t: 'welcome' }]);
  garbage.socket.send(Buffer.from([0xc1, 0xc1, 0xc1]));
  t.equal(await garbage.closed, 1002, 'closed as a protocol error');
  t.match(garbage.messages.at(-1), { t: 'error', code: 'PROTOCOL_ERROR', fatal: true, message: /envelope|msgpack/ });

  const misshapen = await rawClient(t, teamToken);
  misshapen.socket.send(pack({ t: 'ask', id: 1, to: 'client', ttl: 5_000, msg: { type: 'submit', workflowId: 7, ops: [] } }));
  t.equal(await misshapen.closed, 1002);
  t.match(misshapen.messages.at(-1), { t: 'error', code: 'PROTOCOL_ERROR', message: /'client' does not match its schema at \/workflowId/ });

  t.ok(Array.isArray((await bystander.list()).runs), 'another client of the tenant is still served');
  t.equal(await (await connect(t, teamToken)).workflow('after', async () => step(tempDir(t), 'x', 1)), 2, 'and new ones too');
});

t.test('values larger than one ws frame travel both ways in chunks', async (t) => {
  const client = await connect(t, teamToken);
  const size = 9 * 1024 * 1024;
  const [sent, received] = await client.workflow('big', async () => Promise.all([lengthOf('s'.repeat(size)), big('r', size)]));
  t.equal(sent, size, 'a 9 MiB argument reached the op');
  t.equal(received.length, size, 'a 9 MiB result reached the client');
  t.ok(received === 'r'.repeat(size));
});

t.test('watching a run replays its results, even more of them than fit one frame', async (t) => {
  const client = await connect(t, teamToken);
  const watcher = await connection(t, teamToken);
  const count = 80;
  const size = 60 * 1024; // inline results: 80 of them are more than one 4 MiB frame
  const replayed = await client.workflow('many', async (wf) => {
    await Promise.all(Array.from({ length: count }, (_, i) => big(String.fromCharCode(97 + (i % 26)), size + i)));
    // The run is still active: another connection follows it from here, after a replay.
    const events: WorkflowEvent[] = [];
    await new Promise<void>((resolve) =>
      watcher.watch(wf.id, (event) => {
        events.push(event);
        if (events.filter((e) => e.type === 'op-succeeded').length === count) resolve();
      }),
    );
    return events;
  });
  const results = replayed.filter((event) => event.type === 'op-succeeded');
  t.equal(new Set(results.map((event) => event.opId)).size, count, 'every result was replayed once');
});

t.test("a client that shows no op counts is sent a run's results and end, but none of its progress events", async (t) => {
  const client = await connection(t, teamToken);
  const dir = tempDir(t);
  const value = (v: unknown) => ({ kind: 'value' as const, ref: refFor(encodeValue(v)) });
  const spec = (id: string): OpSpec => ({
    id,
    name: 'step',
    module: pathToFileURL(fixture('ops')).href,
    exportName: 'step',
    args: [value(dir), value(id), value(1)],
    retries: { max: 0, backoffMs: 0 },
    env: {},
  });
  /** The events a run of one op sends its starter, until its end. */
  const heardBy = async (name: string, progress: boolean | undefined) => {
    const heard: WorkflowEvent[] = [];
    const ended = new Promise<void>((resolve) => {
      const onEvent = (event: WorkflowEvent) => {
        heard.push(event);
        if (event.type === 'workflow-ended') resolve();
      };
      void client.startWorkflow(name, onEvent, undefined, progress === undefined ? undefined : { progress }).then(async (workflowId) => {
        await client.submit(workflowId, [spec(name)]);
        await client.finish(workflowId);
      });
    });
    await ended;
    return heard.map((event) => event.type);
  };
  const quiet = await heardBy('quiet', false);
  t.same(quiet, ['op-succeeded', 'workflow-ended'], 'only the result and the end');
  const counted = await heardBy('counted', undefined);
  t.ok(counted.includes('progress'), 'a starter that did not say hears the op counts too');
  t.same(
    counted.filter((type) => type !== 'progress'),
    ['op-succeeded', 'workflow-ended'],
    'and the same result and end',
  );
});
