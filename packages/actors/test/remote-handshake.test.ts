// The handshake: protocol versions must match both ways, `authenticate` may refuse a client, and the
// identity it returns reaches the actor through `withOrigin`.
import t from 'tap';
import { pack } from 'msgpackr';
import { PROTOCOL_VERSION, PeerUnavailableError, ProtocolError, ask, tell } from '../src/index.js';
import type { LogMsg, PeersMsg, WhoamiMsg } from './fixtures/remote-messages.js';
import { newRemoting, rawClient, rejection, startRawServer, startServer, thrown } from './remote-helpers.js';

// One server process that demands a token (`token-alice` or `token-bob`).
const server = await startServer(t, ['--name', 'guarded', '--auth']);

t.test('a client that speaks another protocol version is refused with PROTOCOL_VERSION and disconnected', async (t) => {
  const client = await rawClient(t, server.url);
  client.socket.send(pack({ t: 'hello', v: 99, name: 'time-traveller', maxFrame: 1024 * 1024, auth: 'token-alice' }));
  const { code, reason } = await client.closed;
  t.same(client.messages, [
    {
      t: 'error',
      code: 'PROTOCOL_VERSION',
      message: `peer speaks protocol 99; this side speaks ${PROTOCOL_VERSION}`,
      fatal: true,
    },
  ]);
  t.equal(code, 1002, 'closed with 1002 (protocol error)');
  t.equal(reason, 'PROTOCOL_VERSION');

  // The server goes on serving clients that speak its version.
  const remoting = newRemoting(t, { name: 'current' });
  const peer = remoting.connect(server.url, { auth: 'token-alice' });
  await peer.ready;
  t.same(await ask(peer.ref<PeersMsg>('peers'), { type: 'peers' }, 5_000), ['current'], 'the refused client never became a peer');
});

t.test('a server that answers with another protocol version is refused by the client', async (t) => {
  const raw = await startRawServer(t, { welcome: { v: 99 } });
  const remoting = newRemoting(t, { name: 'careful' });
  const peer = remoting.connect(raw.url);
  const error = await rejection(peer.ready);
  t.type(error, ProtocolError);
  t.equal(error.code, 'PROTOCOL_VERSION');
  t.match(error.message, /speaks protocol 99/);
  t.equal(raw.connections[0]?.hello.v, PROTOCOL_VERSION, 'the client announced its own version');
  await raw.connections[0]!.closed;
  t.equal(peer.state, 'closed', 'it does not try again');
  const tellError = thrown(() => tell(peer.ref<LogMsg>('log'), { type: 'add', item: 1 }));
  t.type(tellError, PeerUnavailableError);
  t.equal(tellError.code, 'PEER_CLOSED');
});

t.test('peer.ready rejects with UNAUTHENTICATED when the server refuses the token', async (t) => {
  const remoting = newRemoting(t, { name: 'intruder' });
  const wrong = remoting.connect(server.url, { auth: 'token-mallory' });
  const error = await rejection(wrong.ready);
  t.type(error, ProtocolError);
  t.equal(error.code, 'UNAUTHENTICATED');
  t.match(error.message, /authentication failed: unknown token/);
  t.equal(wrong.state, 'closed');

  const none = remoting.connect(server.url);
  const noneError = await rejection(none.ready);
  t.equal(noneError.code, 'UNAUTHENTICATED');
  t.match(noneError.message, /a token is required/);

  const askError = await rejection(ask(wrong.ref<WhoamiMsg>('whoami'), { type: 'whoami' }, 1_000));
  t.equal(askError.code, 'PEER_CLOSED', 'a refused peer cannot be used');
});

t.test('a refused raw client gets the UNAUTHENTICATED error envelope and close code 1008', async (t) => {
  const client = await rawClient(t, server.url);
  client.socket.send(pack({ t: 'hello', v: PROTOCOL_VERSION, name: 'raw', maxFrame: 1024 * 1024, auth: 'nope' }));
  const { code } = await client.closed;
  t.equal(code, 1008, 'policy violation');
  t.match(client.messages, [{ t: 'error', code: 'UNAUTHENTICATED', fatal: true }]);
  t.equal(client.messages.length, 1, 'nothing but the error');
});

t.test('the identity authenticate returns reaches the actor through withOrigin, per connection', async (t) => {
  const alice = newRemoting(t, { name: 'alice-laptop' });
  const bob = newRemoting(t, { name: 'bob-phone' });
  const alicePeer = alice.connect(server.url, { auth: 'token-alice' });
  const bobPeer = bob.connect(server.url, { auth: 'token-bob' });
  await Promise.all([alicePeer.ready, bobPeer.ready]);
  const [asAlice, asBob] = await Promise.all([
    ask(alicePeer.ref<WhoamiMsg>('whoami'), { type: 'whoami' }, 5_000),
    ask(bobPeer.ref<WhoamiMsg>('whoami'), { type: 'whoami' }, 5_000),
  ]);
  t.same(asAlice, { principal: { user: 'alice', role: 'admin' }, peer: 'alice-laptop' });
  t.same(asBob, { principal: { user: 'bob', role: 'reader' }, peer: 'bob-phone' });
});

t.test('an actor exposed to admins only answers others FORBIDDEN and keeps their connection', async (t) => {
  const alice = newRemoting(t, { name: 'alice-admin' });
  const bob = newRemoting(t, { name: 'bob-reader' });
  const alicePeer = alice.connect(server.url, { auth: 'token-alice' });
  const bobPeer = bob.connect(server.url, { auth: 'token-bob' });
  await Promise.all([alicePeer.ready, bobPeer.ready]);
  t.match(await ask(alicePeer.ref<WhoamiMsg>('admins'), { type: 'whoami' }, 5_000), { principal: { role: 'admin' } });
  const error = await rejection(ask(bobPeer.ref<WhoamiMsg>('admins'), { type: 'whoami' }, 5_000));
  t.equal(error.code, 'FORBIDDEN');
  t.match(error.message, /may not address 'admins'/);
  t.match(await ask(bobPeer.ref<WhoamiMsg>('whoami'), { type: 'whoami' }, 5_000), { principal: { user: 'bob' } }, 'bob is still connected');
  t.equal(bobPeer.state, 'open');
});
