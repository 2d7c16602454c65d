// tell and ask between two processes: the server actor system runs in fixtures/remote-server.
import t from 'tap';
import { Type } from '@sinclair/typebox';
import {
  AskTimeoutError,
  RemoteError,
  ask,
  protocolErrors,
  spawnActor,
  startActorSystem,
  tell,
  type ActorRef,
} from '../src/index.js';
import type { GatherMsg, LogMsg, PeersMsg, RelayMsg, SilentMsg } from './fixtures/remote-messages.js';
import { waitUntil } from './harness.js';
import { newRemoting, rejection, startRawServer, startServer, type Teardown } from './remote-helpers.js';

// One server process for the whole file; each test dials it with a client of its own.
const server = await startServer(t);

async function connectClient(t: Teardown, name: string, setup?: (remoting: ReturnType<typeof newRemoting>) => void) {
  const remoting = newRemoting(t, { name });
  setup?.(remoting);
  const peer = remoting.connect(server.url);
  await peer.ready;
  return { remoting, peer };
}

/** What the `log` actor holds that this test added (items are tagged with the test's name). */
async function itemsOf(log: ActorRef<LogMsg>, tag: string) {
  const items = (await ask(log, { type: 'items' }, 5_000)) as { tag: string; i: number }[];
  return items.filter((item) => item.tag === tag).map((item) => item.i);
}

t.test('tells from another process arrive in the order they were sent', async (t) => {
  const { peer } = await connectClient(t, 'client-order');
  const log = peer.ref<LogMsg>('log');
  let i = 0;
  for (let round = 0; round < 5; round++) {
    for (let n = 0; n < 200; n++) tell(log, { type: 'add', item: { tag: 'order', i: i++ } });
    await new Promise((resolve) => setImmediate(resolve)); // the next round goes out in later frames
  }
  t.same(await itemsOf(log, 'order'), Array.from({ length: 1000 }, (_, n) => n), 'all 1000 tells, in order');
});

t.test('ask returns the reply of the remote actor', async (t) => {
  const { peer } = await connectClient(t, 'client-ask');
  const gather = peer.ref<GatherMsg>('gather');
  t.same(await ask(gather, { type: 'hold', value: 21, n: 1 }, 5_000), { value: 21, doubled: 42 });
  const log = peer.ref<LogMsg>('log');
  tell(log, { type: 'add', item: { tag: 'ask', i: 7 } });
  t.same(await itemsOf(log, 'ask'), [7], 'an ask sees the tell sent before it');
});

t.test('concurrent asks each get their own reply, even when the replies come back in reverse order', async (t) => {
  const { peer } = await connectClient(t, 'client-concurrent');
  const gather = peer.ref<GatherMsg>('gather');
  const values = Array.from({ length: 50 }, (_, n) => n * 10 + 3);
  // `gather` answers nobody until all 50 asks are in, then answers the last one first.
  const replies = await Promise.all(values.map((value) => ask(gather, { type: 'hold', value, n: values.length }, 10_000)));
  t.same(
    replies,
    values.map((value) => ({ value, doubled: value * 2 })),
  );
});

t.test('an ask to an actor that never replies rejects with AskTimeoutError', async (t) => {
  const { peer } = await connectClient(t, 'client-timeout');
  const silent = peer.ref<SilentMsg>('silent');
  const error = await rejection(ask(silent, { type: 'ping', n: 4242 }, 300));
  t.type(error, AskTimeoutError);
  t.equal(error.code, 'ASK_TIMEOUT');
  t.match(error.message, /server\/silent/, 'the message names the remote actor');
  await server.child.waitForLine((line) => line === 'silent 4242', 'the silent actor to have received the ask');
  // The connection is still usable after a timed-out ask.
  t.same(await ask(peer.ref<GatherMsg>('gather'), { type: 'hold', value: 1, n: 1 }, 5_000), { value: 1, doubled: 2 });
});

t.test('an ask the server reports timed out (its ttl ran out first) rejects with AskTimeoutError too', async (t) => {
  // The server runs the ask with the caller's timeout as its ttl, so under load its timeout reply can
  // overtake the caller's own timer: the caller must see the same error either way.
  const raw = await startRawServer(t);
  const remoting = newRemoting(t, { name: 'client-ttl' });
  const peer = remoting.connect(raw.url);
  await peer.ready;
  const pending = rejection(ask(peer.ref<SilentMsg>('silent'), { type: 'ping', n: 1 }, 10_000));
  const connection = raw.connections[0]!;
  const query = (await waitUntil(() => connection.frames[0], 'the ask to reach the raw server'))![0]!;
  t.match(query, { t: 'ask', to: 'silent', ttl: 10_000 });
  connection.send({
    t: 'reply',
    id: query.id,
    ok: false,
    error: { code: 'ASK_TIMEOUT', name: 'AskTimeoutError', message: 'no reply from raw/silent within 10000 ms' },
  });
  const error = await pending;
  t.type(error, AskTimeoutError);
  t.equal(error.code, 'ASK_TIMEOUT');
  t.match(error.message, /raw\/silent within 10000 ms/);
});

t.test('an ask to a path that is not exposed rejects with ACTOR_NOT_FOUND', async (t) => {
  const { peer } = await connectClient(t, 'client-not-found');
  const error = await rejection(ask(peer.ref<LogMsg>('no-such-actor'), { type: 'items' }, 5_000));
  t.type(error, RemoteError);
  t.equal(error.code, 'ACTOR_NOT_FOUND');
  t.equal((error as RemoteError).remoteName, 'ActorNotFoundError');
  t.match(error.message, /no-such-actor/);
  t.equal(peer.state, 'open', 'the connection stays open');
  t.same(await ask(peer.ref<GatherMsg>('gather'), { type: 'hold', value: 5, n: 1 }, 5_000), { value: 5, doubled: 10 });
});

t.test('a tell to a path that is not exposed is reported back, not dropped silently', async (t) => {
  const { peer } = await connectClient(t, 'client-tell-not-found');
  const reports: string[] = [];
  const listener = (report: unknown) => reports.push((report as { message: string }).message);
  protocolErrors.subscribe(listener);
  t.teardown(() => void protocolErrors.unsubscribe(listener));
  tell(peer.ref<LogMsg>('nowhere'), { type: 'add', item: 1 });
  const report = await waitUntil(
    () => reports.find((message) => message.includes('ACTOR_NOT_FOUND') && message.includes("'nowhere'")),
    'the server to report the undeliverable tell',
  );
  t.match(report, /^server reported ACTOR_NOT_FOUND/);
  t.equal(peer.state, 'open');
});

t.test('the server can ask and tell actors the client exposes, over the connection the client opened', async (t) => {
  const clientSystem = startActorSystem({ name: 'client-back' });
  t.teardown(() => clientSystem.stop());
  type CounterMsg = { type: 'add'; by: number } | { type: 'get'; replyTo: ActorRef<number> };
  const counter = spawnActor<number, CounterMsg>(clientSystem, {
    name: 'counter',
    initialState: () => 0,
    receive: (total, msg) => {
      if (msg.type === 'add') return total + msg.by;
      tell(msg.replyTo, total);
      return total;
    },
  });
  const { peer } = await connectClient(t, 'client-back', (remoting) =>
    remoting.expose('counter', counter, {
      schema: Type.Union([Type.Object({ type: Type.Literal('add'), by: Type.Number() }), Type.Object({ type: Type.Literal('get') })]),
    }),
  );
  const relay = peer.ref<RelayMsg>('relay');
  t.same(await ask(relay, { type: 'ask-back', path: 'counter', query: { type: 'get' } }, 5_000), { ok: true, value: 0 });
  t.same(await ask(relay, { type: 'tell-back', path: 'counter', msg: { type: 'add', by: 5 } }, 5_000), { ok: true });
  t.same(await ask(relay, { type: 'tell-back', path: 'counter', msg: { type: 'add', by: 37 } }, 5_000), { ok: true });
  t.same(await ask(relay, { type: 'ask-back', path: 'counter', query: { type: 'get' } }, 5_000), { ok: true, value: 42 });
  t.equal(await ask(counter, { type: 'get' }, 1_000), 42, 'the server really told the local actor');
  t.same(
    await ask(relay, { type: 'ask-back', path: 'not-exposed', query: { type: 'get' } }, 5_000),
    { ok: false, code: 'ACTOR_NOT_FOUND' },
    "the server's ask to a path the client does not expose fails with ACTOR_NOT_FOUND",
  );
});

t.test('the server sees each client as a peer: onPeer greets it and remoting.peers lists it', async (t) => {
  const greeter = await startServer(t, ['--name', 'greeter', '--greet', 'inbox']);
  const clientSystem = startActorSystem({ name: 'client-greeted' });
  t.teardown(() => clientSystem.stop());
  const greetings: unknown[] = [];
  const inbox = spawnActor<null, unknown>(clientSystem, {
    name: 'inbox',
    initialState: () => null,
    receive: (state, msg) => {
      greetings.push(msg);
      return state;
    },
  });
  const remoting = newRemoting(t, { name: 'client-greeted' });
  remoting.expose('inbox', inbox, { schema: Type.Object({ type: Type.Literal('greeting'), from: Type.String() }) });
  const peer = remoting.connect(greeter.url);
  await peer.ready;
  t.equal(peer.name, 'greeter', 'the peer takes the name the server announced');
  await greeter.child.waitForLine((line) => line === 'peer client-greeted', 'onPeer to fire on the server');
  await waitUntil(() => greetings.length > 0, 'the greeting told from onPeer');
  t.same(greetings, [{ type: 'greeting', from: 'greeter' }]);

  const other = newRemoting(t, { name: 'client-watcher' });
  const watcher = other.connect(greeter.url);
  await watcher.ready;
  const peers = watcher.ref<PeersMsg>('peers');
  t.same(await ask(peers, { type: 'peers' }, 5_000), ['client-greeted', 'client-watcher']);
  await remoting.close();
  t.equal(peer.state, 'closed');
  await waitUntil(
    async () => (await ask(peers, { type: 'peers' }, 5_000)).length === 1,
    'the server to drop the closed client from its peers',
  );
  t.same(await ask(peers, { type: 'peers' }, 5_000), ['client-watcher']);
});
