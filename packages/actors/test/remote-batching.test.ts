// Batching: small messages sent together travel together, several envelopes to a ws frame, and a
// batch never outgrows the frame size the peer announced. A raw ws server that speaks only the
// handshake counts what arrives.
import t from 'tap';
import { ask, tell, type ActorRef } from '../src/index.js';
import { waitUntil } from './harness.js';
import { newRemoting, startRawServer } from './remote-helpers.js';

type SinkMsg = { type: 'n'; n: number } | { type: 'echo'; n: number; replyTo: ActorRef<number> };

t.test('many small tells sent in one tick arrive in far fewer frames than messages, in order', async (t) => {
  const raw = await startRawServer(t);
  const remoting = newRemoting(t, { name: 'batcher' });
  const peer = remoting.connect(raw.url);
  await peer.ready;
  const sink = peer.ref<SinkMsg>('sink');
  const count = 500;
  for (let n = 0; n < count; n++) tell(sink, { type: 'n', n });
  const connection = raw.connections[0]!;
  await waitUntil(() => connection.frames.flat().length >= count, `all ${count} envelopes to arrive`);
  const envelopes = connection.frames.flat();
  t.equal(envelopes.length, count, 'no envelope twice');
  t.same(
    envelopes,
    Array.from({ length: count }, (_, n) => ({ t: 'tell', to: 'sink', msg: { type: 'n', n } })),
    'every tell, in order',
  );
  const perFrame = connection.frames.map((frame) => frame.length);
  t.ok(perFrame.length <= count / 50, `${count} tells took ${perFrame.length} frame(s), far fewer than ${count}`);
  t.ok(Math.max(...perFrame) >= 50, `the largest frame carried ${Math.max(...perFrame)} envelopes`);
});

t.test('a tell sent alone in a later tick is not held back waiting for company', async (t) => {
  const raw = await startRawServer(t);
  const remoting = newRemoting(t, { name: 'lonely' });
  const peer = remoting.connect(raw.url);
  await peer.ready;
  const sink = peer.ref<SinkMsg>('sink');
  tell(sink, { type: 'n', n: 1 });
  const connection = raw.connections[0]!;
  await waitUntil(() => connection.frames.length === 1, 'the first frame');
  tell(sink, { type: 'n', n: 2 });
  await waitUntil(() => connection.frames.length === 2, 'the second frame, sent on its own');
  t.same(connection.frames, [[{ t: 'tell', to: 'sink', msg: { type: 'n', n: 1 } }], [{ t: 'tell', to: 'sink', msg: { type: 'n', n: 2 } }]]);
});

t.test('concurrent asks go out batched, and replies batched into one frame each reach their own ask', async (t) => {
  const raw = await startRawServer(t);
  const remoting = newRemoting(t, { name: 'asker' });
  const peer = remoting.connect(raw.url);
  await peer.ready;
  const sink = peer.ref<SinkMsg>('sink');
  const count = 100;
  const replies = Array.from({ length: count }, (_, n) => ask(sink, { type: 'echo', n }, 10_000));
  const connection = raw.connections[0]!;
  await waitUntil(() => connection.frames.flat().length >= count, `all ${count} asks to arrive`);
  t.ok(connection.frames.length <= count / 10, `${count} asks took ${connection.frames.length} frame(s)`);
  const asks = connection.frames.flat() as { t: string; id: number; to: string; msg: { n: number }; ttl: number }[];
  t.equal(new Set(asks.map((envelope) => envelope.id)).size, count, 'each ask has its own correlation id');
  t.ok(
    asks.every((envelope) => envelope.t === 'ask' && envelope.to === 'sink' && envelope.ttl === 10_000),
    'asks carry their target and time to live',
  );
  // Answer all of them in a single frame, in reverse order, each with its query's n times 3.
  connection.send(...[...asks].reverse().map((envelope) => ({ t: 'reply', id: envelope.id, ok: true, value: envelope.msg.n * 3 })));
  t.same(
    await Promise.all(replies),
    Array.from({ length: count }, (_, n) => n * 3),
  );
});

t.test("a batch is split so no frame exceeds the peer's announced maximum", async (t) => {
  const maxFrame = 4096;
  const raw = await startRawServer(t, { welcome: { maxFrame } });
  const remoting = newRemoting(t, { name: 'splitter' });
  const peer = remoting.connect(raw.url);
  await peer.ready;
  const sink = peer.ref<{ type: 'blob'; n: number; data: string }>('sink');
  const count = 100;
  const data = 'x'.repeat(300);
  for (let n = 0; n < count; n++) tell(sink, { type: 'blob', n, data });
  const connection = raw.connections[0]!;
  await waitUntil(() => connection.frames.flat().length >= count, `all ${count} envelopes to arrive`);
  t.same(
    connection.frames.flat().map((envelope) => (envelope.msg as { n: number }).n),
    Array.from({ length: count }, (_, n) => n),
    'all of them, in order',
  );
  t.ok(connection.frames.length >= (count * data.length) / maxFrame, `split into ${connection.frames.length} frames`);
  const envelopeBytes = connection.frameBytes[0]! / connection.frames[0]!.length;
  t.ok(
    connection.frameBytes.slice(0, -1).every((size) => size + envelopeBytes > maxFrame),
    `every frame but the last is filled up to the limit (${connection.frameBytes.join(', ')} bytes)`,
  );
  const largest = Math.max(...connection.frameBytes);
  t.ok(largest <= maxFrame, `largest frame ${largest} bytes <= ${maxFrame}`);
});
