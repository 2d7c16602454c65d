// Maximum frame size: each side announces the largest frame it accepts; a message that cannot fit
// fails at the sender, synchronously, and the connection goes on serving.
import t from 'tap';
import { Type } from '@sinclair/typebox';
import { FrameTooLargeError, ask, spawnActor, startActorSystem, tell, type ActorRef } from '../src/index.js';
import type { LogMsg, RelayMsg } from './fixtures/remote-messages.js';
import { waitUntil } from './harness.js';
import { newRemoting, rejection, startServer, thrown } from './remote-helpers.js';

const maxFrame = 64 * 1024;
// One server process that accepts frames of at most 64 KiB.
const server = await startServer(t, ['--max-frame', String(maxFrame)]);

async function connect(t: Parameters<typeof newRemoting>[0], name: string) {
  const remoting = newRemoting(t, { name });
  const peer = remoting.connect(server.url);
  await peer.ready;
  return { remoting, peer };
}

/** What this test's tells added to the server's log (items are `[tag, index, payload]`). */
async function loggedBy(log: ActorRef<LogMsg>, tag: string) {
  const items = (await ask(log, { type: 'items' }, 5_000)) as [string, number, string][];
  return items.filter(([itemTag]) => itemTag === tag).map(([, i, payload]) => [i, payload.length]);
}

t.test("a tell larger than the peer's maximum frame size throws FrameTooLargeError; later messages still flow", async (t) => {
  const { peer } = await connect(t, 'big-teller');
  const log = peer.ref<LogMsg>('log');
  tell(log, { type: 'add', item: ['tell', 0, 'small'] });
  const error = thrown(() => tell(log, { type: 'add', item: ['tell', 1, 'x'.repeat(maxFrame)] }));
  t.type(error, FrameTooLargeError);
  t.equal(error.code, 'FRAME_TOO_LARGE');
  t.match(error.message, new RegExp(`maximum frame size of ${maxFrame} bytes`), 'the limit is the one the server announced');
  tell(log, { type: 'add', item: ['tell', 2, 'y'.repeat(1000)] });
  t.same(
    await loggedBy(log, 'tell'),
    [
      [0, 5],
      [2, 1000],
    ],
    'the messages on either side arrived; the oversized one was never sent',
  );
  t.equal(peer.state, 'open');
});

t.test('an ask larger than the limit rejects with FrameTooLargeError and the next ask is answered', async (t) => {
  const { peer } = await connect(t, 'big-asker');
  const log = peer.ref<LogMsg & { pad?: string }>('log');
  const error = await rejection(ask(log, { type: 'items', pad: 'z'.repeat(2 * maxFrame) }, 5_000));
  t.type(error, FrameTooLargeError);
  t.equal(error.code, 'FRAME_TOO_LARGE');
  t.ok(Array.isArray(await ask(log, { type: 'items' }, 5_000)), 'a normal ask is answered');
});

t.test('messages that each fit but together do not are sent in several frames, all of them delivered', async (t) => {
  const { peer } = await connect(t, 'many-medium');
  const log = peer.ref<LogMsg>('log');
  const size = 20 * 1024; // 8 of these make 160 KiB, far over one 64 KiB frame
  for (let i = 0; i < 8; i++) tell(log, { type: 'add', item: ['medium', i, String(i).repeat(size)] });
  t.same(
    await loggedBy(log, 'medium'),
    Array.from({ length: 8 }, (_, i) => [i, size]),
    'all eight arrived in order (a single oversized frame would have been refused by the server)',
  );
  t.equal(peer.state, 'open');
});

t.test("the server holds to the client's announced maximum frame size too", async (t) => {
  const system = startActorSystem({ name: 'small-frames' });
  t.teardown(() => system.stop());
  const received: number[] = [];
  const inbox = spawnActor<null, { type: 'big'; data: string }>(system, {
    name: 'inbox',
    initialState: () => null,
    receive: (state, msg) => {
      received.push(msg.data.length);
      return state;
    },
  });
  const clientMax = 16 * 1024;
  const remoting = newRemoting(t, { name: 'small-frames', limits: { maxFrameBytes: clientMax } });
  remoting.expose('inbox', inbox, { schema: Type.Object({ type: Type.Literal('big'), data: Type.String() }) });
  const peer = remoting.connect(server.url);
  await peer.ready;
  const relay = peer.ref<RelayMsg>('relay');
  t.same(
    await ask(relay, { type: 'tell-big-back', path: 'inbox', bytes: clientMax + 1 }, 5_000),
    { ok: false, code: 'FRAME_TOO_LARGE' },
    "the server's tell failed at the server",
  );
  t.same(await ask(relay, { type: 'tell-big-back', path: 'inbox', bytes: 1000 }, 5_000), { ok: true });
  await waitUntil(() => received.length > 0, 'the small message to reach the client');
  t.same(received, [1000], 'only the message that fits arrived');
  t.equal(peer.state, 'open');
});
