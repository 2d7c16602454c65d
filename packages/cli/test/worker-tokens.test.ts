import t from 'tap';
import { Remoting, spawnActor, startActorSystem, tell, type Peer } from '@lzy/actors';
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
  type NodesWireMsg,
  type RunAttempt,
} from '@lzy/node-agent/protocol';
import { CLIENT_PATH } from '@lzy/runtime/protocol';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { whereAmI } from './fixtures/static-ops.js';
import { startServer, waitUntil, type Teardown } from './harness.js';

// Two nodes of a static pool, played by the test: each joins with a real join token, speaks the
// node protocol and, as a real agent does, takes the worker token its lease gives it as its
// connection's credential. Worker tokens live 3 s here, so renewals and expiry happen in the test.
const TTL_MS = 3_000;
const server = await startServer(t, {
  pools: [{ name: 'default', kind: 'static', slots: 1, maxNodes: 1, idleTimeoutMs: 1_000 }],
  args: ['--worker-token-ttl', `${TTL_MS}ms`],
});
const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
t.teardown(() => admin.close());

/** An actor system and remoting of their own, stopped at teardown: one per connection, each with its own agent actor. */
function remotingOf(t: Teardown, name: string) {
  const system = startActorSystem({ name });
  const remoting = new Remoting({ name });
  t.teardown(async () => {
    await remoting.close();
    await system.stop();
  });
  return { system, remoting };
}

interface TestNode {
  readonly peer: Peer;
  /** The `leased` messages its lease sent it (each with a fresh worker token), in order. */
  readonly leases: Extract<AgentMsg, { type: 'leased' }>[];
  readonly given: RunAttempt[];
  /** Renewals the runtime refused. */
  readonly refusals: string[];
  read(uri: string, length: number): Promise<Uint8Array>;
  finish(attemptId: string, output: Buffer): void;
}

async function joinNode(name: string): Promise<TestNode> {
  const { system, remoting } = remotingOf(t, name);
  const leases: TestNode['leases'] = [];
  const given: RunAttempt[] = [];
  const refusals: string[] = [];
  const finished = new Set<string>();
  let peer!: Peer;
  const agent = spawnActor<undefined, AgentMsg>(system, {
    name: 'agent',
    initialState: () => undefined,
    receive: (state, msg) => {
      if (msg.type === 'run') given.push(...attemptsOf(msg, () => {}));
      if (msg.type === 'leased') {
        leases.push(msg);
        peer.reauthenticate(msg.token).catch((error: Error) => refusals.push(error.message));
      }
      return state;
    },
  });
  remoting.expose(AGENT_PATH, agent, { schema: AgentWire });
  peer = remoting.connect(server.url, { auth: joinCredential('default', await admin.issueJoinToken('default')) });
  await peer.ready;
  const send = (msg: NodesWireMsg) => tell(peer.ref<NodesWireMsg>(NODES_PATH), msg);
  send({ type: 'register', slots: 1, pid: process.pid });
  const heartbeats = setInterval(() => send({ type: 'heartbeat', running: given.map((run) => run.attemptId).filter((id) => !finished.has(id)) }), 200);
  t.teardown(() => clearInterval(heartbeats));
  return {
    peer,
    leases,
    given,
    refusals,
    read: (uri, length) => readOn(peer, uri, length),
    finish: (attemptId, output) => {
      finished.add(attemptId);
      const ref = storedRef(hashBytes(output), output.length);
      void peer
        .ask(STORAGE_PATH, { type: 'write', attemptId, uploadId: `${attemptId}-upload`, hash: ref.hash, offset: 0, bytes: output, last: true }, 10_000)
        .then(() => send({ type: 'report', logs: [], finished: [{ attemptId, outcome: { ok: true, result: ref } }] }));
    },
  };
}

const readOn = (peer: Peer, uri: string, length: number) => peer.ask(STORAGE_PATH, { type: 'read', uri, offset: 0, length }, 10_000) as Promise<Uint8Array>;

let dials = 0;
/** A connection of the test's that presents `token` in its handshake, as an agent with that credential would. */
async function dial(t: Teardown, token: string): Promise<Peer> {
  const { remoting } = remotingOf(t, `dial-${++dials}`);
  const peer = remoting.connect(server.url, { auth: token });
  await peer.ready;
  return peer;
}

async function tenant(name: string) {
  const token = await admin.issueToken(name);
  const connection = await RemoteConnection.open({ endpoint: server.url, token });
  const client = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => Promise.all([connection.close(), client.close()]));
  return { connection, client };
}

/** A value too large to travel inline: it is stored, and the op's attempt reads it through storage. */
const large = (tag: string) => tag.repeat(100_000);
const output = (tag: string) => encodeValue({ tag, agentPid: process.pid, cwd: '', addresses: [] });

const acme = await tenant('acme');
const bravo = await tenant('bravo');
const first = await joinNode('worker-tokens-node-1');
const second = await joinNode('worker-tokens-node-2');
const acmeRun = acme.client.workflow('acme-run', async () => whereAmI(large('a')));
const bravoRun = bravo.client.workflow('bravo-run', async () => whereAmI(large('b')));
await waitUntil(() => first.given.length === 1 && second.given.length === 1, 'each node to be given one attempt');
const [acmeNode, bravoNode] = first.given[0]!.tenant === 'acme' ? [first, second] : [second, first];
const acmeAttempt = acmeNode.given[0]!;
const bravoAttempt = bravoNode.given[0]!;

t.test("a node's worker token names its tenant, and its agent reads only what its own attempts need", async (t) => {
  t.equal(acmeNode.leases[0]!.tenant, 'acme', 'the lease gives the node its tenant and its worker token');
  t.match(acmeNode.leases[0]!.token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  const input = acmeAttempt.args[0]!;
  t.same(Buffer.from(await acmeNode.read(input.uri!, input.size)), encodeValue(large('a')), 'with it, the node reads the input of its attempt');
  const bravos = bravoAttempt.args[0]!;
  await t.rejects(acmeNode.read(bravos.uri!, bravos.size), { message: /may not read blob .*: it is not an input of its attempts/ }, "but not tenant bravo's input, another node's attempt");
  const blob = await bravo.connection.putBlob('wf-bravo', encodeValue(large('z')));
  await t.rejects(acmeNode.read(blob.uri, blob.size), { message: /may not read blob .*: it is not an input of its attempts/ }, "nor any other blob of tenant bravo's");

  // The same token in a handshake makes a connection that node, and nothing more.
  const dialled = await dial(t, acmeNode.leases.at(-1)!.token);
  t.same(Buffer.from(await readOn(dialled, input.uri!, input.size)), encodeValue(large('a')), 'a connection made with the token is that node');
  await t.rejects(readOn(dialled, bravos.uri!, bravos.size), { message: /may not read blob/ }, "and reads no more than it");
});

t.test('a worker token cannot act as a client', async (t) => {
  const dialled = await dial(t, acmeNode.leases.at(-1)!.token);
  await t.rejects(dialled.ask(CLIENT_PATH, { type: 'list' }, 10_000), { code: 'FORBIDDEN', message: /node-agent's .*cannot act as a client/ }, 'the client endpoint refuses it, saying why');
  await t.rejects(acmeNode.peer.ask(CLIENT_PATH, { type: 'list' }, 10_000), { code: 'FORBIDDEN', message: /cannot act as a client/ }, "nor may the agent's own connection");
});

t.test('a worker token of one node does not make a connection another node', async (t) => {
  await t.rejects(acmeNode.peer.reauthenticate(bravoNode.leases.at(-1)!.token), { message: /a worker token of node \S+ is not its own/ }, "acme's node cannot take bravo's node's token");
  await t.rejects(acmeNode.peer.reauthenticate(await admin.issueToken('acme')), { message: /renews its credential with a worker token only/ }, "nor a tenant's token");
  const input = acmeAttempt.args[0]!;
  t.ok(await acmeNode.read(input.uri!, input.size), 'and keeps being its own node');
});

t.test("an agent that renews its worker token keeps its connection; one that does not is closed once the token expires, and an expired token is refused", async (t) => {
  const dialled = await dial(t, acmeNode.leases.at(-1)!.token);
  const expiring = acmeNode.leases.at(-1)!;
  await waitUntil(() => dialled.state === 'closed', 'the connection that never renewed its worker token to be closed', 3 * TTL_MS);
  t.ok(Date.now() >= expiring.expiresAt, 'it closed once its token expired');
  await waitUntil(() => acmeNode.leases.some((lease) => lease.expiresAt > expiring.expiresAt + TTL_MS), 'the lease to renew the token twice more');
  t.equal(acmeNode.peer.state, 'open', "the agent's own connection, renewed each time, is still open");
  t.same(acmeNode.refusals, [], 'and every renewal was taken');
  const input = acmeAttempt.args[0]!;
  t.ok(await acmeNode.read(input.uri!, input.size), 'and it still reads its input');
  await t.rejects(dial(t, expiring.token), { message: /worker token expired/ }, 'a handshake with the expired token is refused');
});

t.test("a released lease's worker token stops working at once, before it expires", async (t) => {
  acmeNode.finish(acmeAttempt.attemptId, output('acme'));
  t.equal((await acmeRun).tag, 'acme', "the op ends with the node's output");
  // The node is idle: its lease is released a second later, and the node told to shut down.
  const refused = await waitUntil(
    () => readOn(acmeNode.peer, acmeAttempt.args[0]!.uri!, 1).then(() => undefined, (error: Error & { code?: string }) => (/has ended/.test(error.message) ? error : undefined)),
    "the node's lease to be released",
  );
  t.match(refused, { code: 'FORBIDDEN', message: /^the lease of node \S+ has ended: its worker token no longer works$/ }, "the agent's connection is refused once its lease is released");
  const latest = acmeNode.leases.at(-1)!;
  await t.rejects(dial(t, latest.token), { message: /worker token refused: the lease of node \S+ has ended/ }, 'and so is a handshake with its latest token');
  t.ok(Date.now() < latest.expiresAt, 'which had not expired yet');
  bravoNode.finish(bravoAttempt.attemptId, output('bravo'));
  t.equal((await bravoRun).tag, 'bravo');
});
