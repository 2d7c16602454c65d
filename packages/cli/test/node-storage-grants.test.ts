import t from 'tap';
import { Remoting, spawnActor, startActorSystem, tell } from '@lzy/actors';
import {
  AGENT_PATH,
  AgentWire,
  attemptsOf,
  encodeValue,
  hashBytes,
  joinCredential,
  NODES_PATH,
  STORAGE_PATH,
  storedRef,
  type AgentMsg,
  type AttemptFinished,
  type NodesWireMsg,
  type RunAttempt,
} from '@lzy/node-agent/protocol';
import { CLIENT_PATH } from '@lzy/runtime/protocol';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { whereAmI } from './fixtures/static-ops.js';
import { startServer, waitUntil } from './harness.js';

// The test itself is the only node of a static pool: it joins with a real join token and speaks the
// node protocol, so it can try what a real agent never would.
const server = await startServer(t, { pools: [{ name: 'default', kind: 'static', slots: 1, maxNodes: 1, idleTimeoutMs: 60_000 }] });
const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
t.teardown(() => admin.close());

const system = startActorSystem({ name: 'grants-test-node' });
const remoting = new Remoting({ name: 'grants-test-node' });
t.teardown(async () => {
  await remoting.close();
  await system.stop();
});
/** The attempts the runtime gave this node, in order. */
const given: RunAttempt[] = [];
const agent = spawnActor<undefined, AgentMsg>(system, {
  name: 'agent',
  initialState: () => undefined,
  receive: (state, msg) => {
    if (msg.type === 'run') given.push(...attemptsOf(msg, () => {}));
    return state;
  },
});
remoting.expose(AGENT_PATH, agent, { schema: AgentWire });
const node = remoting.connect(server.url, { auth: joinCredential('default', await admin.issueJoinToken('default')) });
await node.ready;
const tellNodes = (msg: NodesWireMsg) => tell(node.ref<NodesWireMsg>(NODES_PATH), msg);
tellNodes({ type: 'register', slots: 1, pid: process.pid });
const finished = new Set<string>();
const heartbeats = setInterval(() => tellNodes({ type: 'heartbeat', running: given.map((run) => run.attemptId).filter((id) => !finished.has(id)) }), 200);
t.teardown(() => clearInterval(heartbeats));

const read = (uri: string, length: number) => node.ask(STORAGE_PATH, { type: 'read', uri, offset: 0, length }, 10_000) as Promise<Uint8Array>;
const write = (attemptId: string, bytes: Buffer) =>
  node.ask(STORAGE_PATH, { type: 'write', attemptId, uploadId: `${attemptId}-upload`, hash: hashBytes(bytes), offset: 0, bytes, last: true }, 10_000);
const finish = (attemptId: string, outcome: AttemptFinished['outcome']) => {
  finished.add(attemptId);
  tellNodes({ type: 'report', logs: [], finished: [{ attemptId, outcome }] });
};

async function tenant(name: string) {
  const token = await admin.issueToken(name);
  const connection = await RemoteConnection.open({ endpoint: server.url, token });
  const client = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => Promise.all([connection.close(), client.close()]));
  return { connection, client };
}
const acme = await tenant('acme');
const bravo = await tenant('bravo');

/** A value too large to travel inline: it is stored, and the op's attempt reads it through storage. */
const large = (tag: string) => tag.repeat(100_000);

t.test("a node reads and writes only what the attempts it runs need, and never acts as a client", async (t) => {
  const first = acme.client.workflow('first', async () => whereAmI(large('a')));
  await waitUntil(() => given.length === 1, 'the node to be given the first attempt');
  const attempt = given[0]!;
  const input = attempt.args[0]!;

  t.same(Buffer.from(await read(input.uri!, input.size)), encodeValue(large('a')), 'it reads the input of its attempt');
  if (attempt.bundle) t.equal((await read(attempt.bundle.uri, attempt.bundle.size)).length, attempt.bundle.size, 'and the bundle of its op');

  const bravos = await bravo.connection.putBlob('wf-test', encodeValue(large('b')));
  await t.rejects(read(bravos.uri, bravos.size), { message: new RegExp(`^node \\S+ may not read blob ${bravos.uri}: it is not an input of its attempts$`) }, "it cannot read another tenant's blob");

  // A second run of acme's waits for the node's only slot: its input is stored, but not the node's to read yet.
  const secondInput = encodeValue(large('c'));
  const secondRef = await acme.connection.putBlob('wf-test', secondInput);
  const second = acme.client.workflow('second', async () => whereAmI(large('c')));
  await t.rejects(read(secondRef.uri, secondRef.size), { message: /may not read blob .*: it is not an input of its attempts/ }, "it cannot read the input of an attempt it was not given");

  const output = encodeValue({ tag: 'from the test node', agentPid: process.pid, cwd: '', addresses: [large('o')] });
  const outputRef = storedRef(hashBytes(output), output.length);
  await t.rejects(write('attempt-it-does-not-run', output), { message: /may not write as attempt attempt-it-does-not-run: it is not running that attempt/ }, 'it cannot write as an attempt it does not run');
  await t.rejects(acme.connection.getBlob(outputRef), { code: 'NOT_FOUND' }, 'and the refused write stored nothing');

  await t.rejects(node.ask(CLIENT_PATH, { type: 'list' }, 10_000), { code: 'FORBIDDEN' }, 'it cannot call the client API');

  t.equal(await write(attempt.attemptId, output), true, 'it writes the output of its attempt');
  finish(attempt.attemptId, { ok: true, result: outputRef });
  t.equal((await first).tag, 'from the test node', "and the client reads that output as the op's result");

  await waitUntil(() => given.length === 2, 'the node to be given the second attempt');
  t.equal(given[1]!.args[0]!.hash, secondRef.hash, 'the second attempt reads the blob it was refused before');
  t.same(Buffer.from(await read(secondRef.uri, secondRef.size)), secondInput, 'which it may read once it runs that attempt');
  await t.rejects(read(input.uri!, input.size), { message: /may not read blob/ }, 'while the input of its finished attempt is no longer its to read');
  await t.rejects(write(attempt.attemptId, output), { message: /may not write as attempt/ }, 'nor may it write as that attempt');

  finish(given[1]!.attemptId, { ok: true, result: outputRef });
  t.equal((await second).tag, 'from the test node');
});
