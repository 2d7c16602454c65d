// Reconnecting: the server process is killed (SIGKILL, no goodbye) and a new one starts on the same
// port; the client dials again with backoff. Nothing sent is lost without the sender hearing of it.
import t from 'tap';
import {
  ConnectionLostError,
  PeerUnavailableError,
  ask,
  tell,
  type ActorRef,
  type Peer,
  type RemotingOptions,
} from '../src/index.js';
import type { LogMsg, SilentMsg } from './fixtures/remote-messages.js';
import { waitUntil } from './harness.js';
import {
  killServer,
  newRemoting,
  rejection,
  startRawServer,
  startServer,
  thrown,
  type ServerChild,
  type Teardown,
} from './remote-helpers.js';

/** Quick retries, so a restarted server is found again soon. */
const reconnect = { initialDelayMs: 20, maxDelayMs: 200 };

async function connected(t: Teardown, server: ServerChild, name: string, options: Pick<RemotingOptions, 'limits'> & { fail?: boolean } = {}) {
  const remoting = newRemoting(t, { name, ...(options.limits ? { limits: options.limits } : {}) });
  const peer = remoting.connect(server.url, { reconnect, whileDisconnected: options.fail ? 'fail' : 'queue' });
  await peer.ready;
  return peer;
}

/** Kills the server and waits until the client has noticed. */
async function killAndNotice(server: ServerChild, peer: Peer): Promise<void> {
  await killServer(server);
  await waitUntil(() => peer.state === 'reconnecting', 'the client to notice the server is gone');
}

async function items(log: ActorRef<LogMsg>): Promise<unknown[]> {
  return ask(log, { type: 'items' }, 10_000);
}

t.test('tells sent while the server is down are delivered in order once it is back on the same port', async (t) => {
  const first = await startServer(t);
  const peer = await connected(t, first, 'patient');
  const log = peer.ref<LogMsg>('log');
  for (let i = 0; i < 3; i++) tell(log, { type: 'add', item: `before-${i}` });
  t.same(await items(log), ['before-0', 'before-1', 'before-2'], 'delivered to the first server');

  await killAndNotice(first, peer);
  const whileDown = Array.from({ length: 200 }, (_, i) => `down-${i}`);
  for (const item of whileDown) tell(log, { type: 'add', item }); // none of these throws: they wait
  const reply = items(log); // queued behind the tells

  const second = await startServer(t, ['--port', String(first.port)]);
  t.equal(second.port, first.port, 'the new server listens on the same port');
  t.same(await reply, whileDown, 'the new server got every queued tell, in order, before the queued ask');
  t.equal(peer.state, 'open');
  t.equal(peer.name, 'server');
  tell(log, { type: 'add', item: 'after' });
  t.same(await items(log), [...whileDown, 'after'], 'later tells flow as usual');
});

t.test('onState hears the connection open, drop and come back', async (t) => {
  const first = await startServer(t);
  const states: string[] = [];
  const remoting = newRemoting(t, { name: 'listener' });
  const peer = remoting.connect(first.url, { reconnect, onState: (state) => states.push(state) });
  await peer.ready;
  await killAndNotice(first, peer);
  await startServer(t, ['--port', String(first.port)]);
  await waitUntil(() => peer.state === 'open', 'the client to reconnect');
  await remoting.close();
  t.same(states, ['open', 'reconnecting', 'open', 'closed']);
});

t.test('an ask in flight when the connection drops rejects with ConnectionLostError', async (t) => {
  const server = await startServer(t);
  const peer = await connected(t, server, 'asker');
  const pending = rejection(ask(peer.ref<SilentMsg>('silent'), { type: 'ping', n: 77 }, 15_000));
  await server.child.waitForLine((line) => line === 'silent 77', 'the ask to reach the server');
  await killServer(server);
  const error = await pending;
  t.type(error, ConnectionLostError);
  t.equal(error.code, 'CONNECTION_LOST');
  t.equal((error as ConnectionLostError).retryable, true);
  t.match(error.message, /server\/silent/);
});

t.test("with whileDisconnected: 'fail' a tell while disconnected throws PeerUnavailableError at once", async (t) => {
  const first = await startServer(t);
  const peer = await connected(t, first, 'impatient', { fail: true });
  const log = peer.ref<LogMsg>('log');
  await killAndNotice(first, peer);

  const error = thrown(() => tell(log, { type: 'add', item: 'lost' }));
  t.type(error, PeerUnavailableError);
  t.equal(error.code, 'PEER_UNAVAILABLE');
  t.equal((error as PeerUnavailableError).retryable, true);
  const askError = await rejection(items(log));
  t.type(askError, PeerUnavailableError);
  t.equal(askError.code, 'PEER_UNAVAILABLE');

  await startServer(t, ['--port', String(first.port)]);
  await waitUntil(() => peer.state === 'open', 'the client to reconnect');
  tell(log, { type: 'add', item: 'kept' });
  t.same(await items(log), ['kept'], 'the refused tell was not sent later behind the caller’s back');
});

t.test('when the queue bound is reached the next tell throws QUEUE_FULL; the queued ones are delivered', async (t) => {
  const first = await startServer(t);
  const peer = await connected(t, first, 'bounded', { limits: { maxQueuedMessages: 5 } });
  const log = peer.ref<LogMsg>('log');
  await killAndNotice(first, peer);

  for (let i = 0; i < 5; i++) tell(log, { type: 'add', item: i });
  const error = thrown(() => tell(log, { type: 'add', item: 5 }));
  t.type(error, PeerUnavailableError);
  t.equal(error.code, 'QUEUE_FULL');
  t.match(error.message, /5 messages/);
  const askError = await rejection(items(log));
  t.equal(askError.code, 'QUEUE_FULL', 'an ask is refused the same way');

  await startServer(t, ['--port', String(first.port)]);
  await waitUntil(() => peer.state === 'open', 'the client to reconnect');
  t.same(await items(log), [0, 1, 2, 3, 4], 'exactly the accepted tells arrived, in order');
});

t.test('closing a client while it is still dialing leaves no connection open', async (t) => {
  const raw = await startRawServer(t, 'hold'); // takes the hello, never answers it
  // A long handshake timeout: only closing the client may end the connection within this test.
  const remoting = newRemoting(t, { name: 'quitter', limits: { handshakeTimeoutMs: 60_000 } });
  const peer = remoting.connect(raw.url);
  await waitUntil(() => raw.connections[0], 'the hello to reach the server');
  await remoting.close();
  const error = await rejection(peer.ready);
  t.equal(error.code, 'PEER_CLOSED');
  let closed = false;
  void raw.connections[0]!.closed.then(() => (closed = true));
  await waitUntil(() => closed, 'the server to see the half-open connection closed', 5_000);
  t.equal(peer.state, 'closed');
  t.equal(raw.connections.length, 1, 'and it did not dial again');
});
