// Renewing a connection's credential: a client renews it without dropping the connection, the
// server keeps the connection's identity when it refuses a renewal, and closes a connection whose
// credential expired unrenewed, saying why.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import t from 'tap';
import { Type } from '@sinclair/typebox';
import { ask, protocolErrors, spawnActor, startActorSystem, tell, type ActorRef, type PeerState } from '../src/index.js';
import { waitUntil } from './harness.js';
import { newRemoting, rejection, type Teardown } from './remote-helpers.js';

/** A credential of this test: `user@expiresAt`, valid until `expiresAt` (ms since the epoch). */
interface Credential {
  user: string;
  expiresAt: number;
}

function parse(auth: string | undefined): Credential {
  const [user, expiresAt] = (auth ?? '').split('@');
  if (!user || !(Number(expiresAt) > Date.now())) throw new Error(auth ? 'expired credential' : 'a credential is required');
  return { user, expiresAt: Number(expiresAt) };
}

/** What a client asks; the server's actor gets it with the connection's credential as it is at the ask. */
type WhoamiMsg = { type: 'whoami'; replyTo: ActorRef<string> };
type StampedWhoami = WhoamiMsg & { credential: string };

/** A server whose `whoami` actor answers with the connection's user as it is at each ask. */
async function startServer(t: Teardown): Promise<string> {
  const system = startActorSystem({ name: 'server' });
  t.teardown(() => system.stop());
  const whoami = spawnActor<undefined, StampedWhoami>(system, {
    name: 'whoami',
    initialState: () => undefined,
    receive: (state, msg) => (tell(msg.replyTo, msg.credential), state),
  });
  const remoting = newRemoting(t, {
    name: 'server',
    authenticate: (auth) => parse(auth),
    reauthenticate: (auth, current) => {
      const renewed = parse(auth);
      const { user } = current as Credential;
      if (renewed.user !== user) throw new Error(`a renewal must be for ${user}`);
      return renewed;
    },
    expiresAt: (principal) => (principal as Credential).expiresAt,
  });
  remoting.expose('whoami', whoami, {
    schema: Type.Object({ type: Type.Literal('whoami') }),
    withOrigin: (msg, origin) => {
      const { user, expiresAt } = origin.principal as Credential;
      return { ...msg, credential: `${user}@${expiresAt}` };
    },
  });
  return (await remoting.listen()).url;
}

const whoami = (peer: { ref<M>(path: string): ActorRef<M> }) => ask(peer.ref<WhoamiMsg>('whoami'), { type: 'whoami' }, 5_000);

t.test('a client renews its credential and keeps its connection past the first one’s expiry', async (t) => {
  const url = await startServer(t);
  const states: PeerState[] = [];
  const first = `alice@${Date.now() + 1_500}`;
  const peer = newRemoting(t, { name: 'alice' }).connect(url, { auth: first, onState: (state) => states.push(state) });
  await peer.ready;
  t.equal(await whoami(peer), first);
  const second = `alice@${Date.now() + 60_000}`;
  await peer.reauthenticate(second);
  t.equal(await whoami(peer), second, 'the server acts on the renewed credential at once');
  await waitUntil(() => Date.now() > Number(first.split('@')[1]) + 200, 'the first credential to expire');
  t.equal(await whoami(peer), second, 'the connection outlived its first credential');
  t.same(states, ['open'], 'it never dropped');
});

t.test('a renewal for another identity is refused and the connection keeps its own', async (t) => {
  const url = await startServer(t);
  const first = `alice@${Date.now() + 60_000}`;
  const peer = newRemoting(t, { name: 'alice' }).connect(url, { auth: first });
  await peer.ready;
  const error = await rejection(peer.reauthenticate(`mallory@${Date.now() + 60_000}`));
  t.equal(error.code, 'UNAUTHENTICATED');
  t.equal(error.message, 'renewal refused: a renewal must be for alice');
  const expired = await rejection(peer.reauthenticate(`alice@${Date.now() - 1}`));
  t.equal(expired.message, 'renewal refused: expired credential');
  t.equal(await whoami(peer), first, 'still alice, with her first credential');
  t.equal(peer.state, 'open');
});

t.test('a connection whose credential expired unrenewed is closed, saying why', async (t) => {
  const url = await startServer(t);
  const reports: string[] = [];
  const hear = (message: unknown) => reports.push((message as { message: string }).message);
  subscribe(protocolErrors.name, hear);
  t.teardown(() => unsubscribe(protocolErrors.name, hear));
  const expiresAt = Date.now() + 1_000;
  const peer = newRemoting(t, { name: 'alice' }).connect(url, { auth: `alice@${expiresAt}` });
  await peer.ready;
  await waitUntil(() => peer.state === 'closed', 'the server to close the connection');
  t.ok(
    reports.some((line) => line === `server reported UNAUTHENTICATED: the credential of this connection expired at ${new Date(expiresAt).toISOString()} and was not renewed`),
    'the client heard why',
  );
  const error = await rejection(whoami(peer));
  t.equal(error.code, 'PEER_CLOSED', 'redialled with the expired credential, it was refused for good');
});
