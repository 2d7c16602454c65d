// Bad input against a live Remoting server: every broken frame gets a clear, fatal PROTOCOL_ERROR
// envelope naming the problem and closes only its own connection (1002; 1009 for an oversized
// frame), while a well-behaved client of the same server keeps getting answers.
import t from 'tap';
import { Type } from '@sinclair/typebox';
import {
  PROTOCOL_VERSION,
  Remoting,
  ask,
  protocolErrors,
  spawnActor,
  startActorSystem,
  tell,
  type ActorRef,
  type RemotingLimits,
} from '../src/index.js';
import { waitUntil } from './harness.js';
import { frameOf, handshaken, helloFrame, openRaw, packr, prng, randomBytesFrom, type RawClient } from './fixtures/bad-raw-client.js';

type EchoMsg =
  | { type: 'echo'; text: string; replyTo: ActorRef<string> }
  | { type: 'echo'; text: string; replyTo?: undefined }
  | { type: 'count'; replyTo: ActorRef<number> };

const MAX_FRAME = 64 * 1024;

/**
 * Published protocol-error reports, for asserting that a violation is also reported locally. Each
 * test starts with none, and each violation checked takes its report out, so a repeated case needs
 * a report of its own.
 */
const reports: string[] = [];
const onReport = (message: unknown) => void reports.push((message as { message: string }).message);
protocolErrors.subscribe(onReport);
t.teardown(() => protocolErrors.unsubscribe(onReport));

/**
 * Each test finishes well within a second when the server behaves; the timeout only turns a hang
 * into a failure, e.g. a refused socket left paused, whose close then waits for ws's 30 s timeout.
 */
const test = (name: string, fn: (t: Test) => Promise<void>) => t.test(name, { timeout: 20_000 }, fn);

/** The test object tap passes to a subtest (the last overload of `t.test` takes only the callback). */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** A server exposing `echo` (answers asks with their text, counts tells) and a good client connected to it. */
async function startServer(t: Test, limits: Partial<RemotingLimits> = {}) {
  reports.length = 0;
  const system = startActorSystem({ name: 'bad-input-server' });
  const echo = spawnActor<number, EchoMsg>(system, {
    name: 'echo',
    initialState: () => 0,
    receive: (tells, msg) => {
      if (msg.type === 'count') tell(msg.replyTo, tells);
      else if (msg.replyTo) tell(msg.replyTo, msg.text);
      else return tells + 1;
      return tells;
    },
  });
  const server = new Remoting({ name: 'server', limits: { maxFrameBytes: MAX_FRAME, ...limits } });
  server.expose('echo', echo, {
    schema: Type.Object({ type: Type.Literal('echo'), text: Type.String() }, { additionalProperties: false }),
  });
  const { url } = await server.listen();
  const client = new Remoting({ name: 'good' });
  const raws: RawClient[] = [];
  t.teardown(async () => {
    for (const raw of raws) raw.ws.terminate();
    await client.close();
    await server.close();
    system.stop();
  });
  const peer = client.connect(url);
  await peer.ready;
  const goodEcho = peer.ref<EchoMsg>('echo');
  let round = 0;
  return {
    url,
    server,
    /** Tells the echo actor has received (asked locally, past the wire and its schema). */
    tellsDelivered: () => ask(echo, { type: 'count' }, 5_000),
    /** Asserts the server still answers the good client on its own, untouched connection. */
    async stillServing(t: Test) {
      const text = `still here ${++round}`;
      t.equal(await ask(goodEcho, { type: 'echo', text }, 5_000), text, 'the good client still gets answers');
      t.equal(peer.state, 'open', "the good client's connection stayed open");
      await waitUntil(() => server.peers.size === 1, 'the server to drop the bad connections, keeping only the good one');
    },
    async raw(handshake = true) {
      const raw = handshake ? await handshaken(url) : await openRaw(url);
      raws.push(raw);
      return raw;
    },
  };
}

/** Waits for `raw` to be closed and asserts it first got one fatal error envelope of `code` whose message matches. */
async function expectRefused(t: Test, raw: RawClient, code: string, message: RegExp | string, closeCode = 1002) {
  const closed = await raw.closed;
  t.equal(closed.code, closeCode, `the connection is closed with ${closeCode}`);
  const errors = raw.errors();
  t.equal(errors.length, 1, 'exactly one error envelope came before the close');
  const [error] = errors;
  t.equal(error?.code, code, `the error code is ${code}`);
  t.equal(error?.fatal, true, 'the error is fatal');
  if (typeof message === 'string') t.equal(error?.message, message, 'the message says what was wrong');
  else t.match(error?.message, message, 'the message says what was wrong');
  const report = reports.findIndex((text) => text.includes(String(error?.message)));
  t.ok(report >= 0, 'the violation is also published on protocolErrors');
  if (report >= 0) reports.splice(report, 1);
  t.notOk(
    raw.received.some((item) => 'undecodable' in item),
    'everything the server sent decodes',
  );
}

const tellFrame = (msg: unknown, to = 'echo') => frameOf({ t: 'tell', to, msg });

test('random bytes after a valid handshake: not valid msgpack, or not an envelope', async (t) => {
  const s = await startServer(t);
  const random = prng(0xbad1);
  for (let i = 0; i < 8; i++) {
    let bytes = randomBytesFrom(random, 1 + Math.floor(random() * 200));
    // The first one surely does not decode: it starts with a str32 header declaring 4 GiB.
    if (i === 0) bytes = Buffer.concat([Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff]), bytes]);
    let decodes = true;
    try {
      packr.unpackMultiple(bytes);
    } catch {
      decodes = false;
    }
    const raw = await s.raw();
    raw.send(bytes);
    await expectRefused(
      t,
      raw,
      'PROTOCOL_ERROR',
      decodes
        ? /^unknown envelope type .*; expected one of tell, ask, reply, error, reauth, reauthed$/
        : new RegExp(`^frame of ${bytes.length} bytes is not valid msgpack: .+`),
    );
  }
  await s.stillServing(t);
});

test('random bytes as the very first frame are refused as not a hello', async (t) => {
  const s = await startServer(t);
  const random = prng(0xbad2);
  for (let i = 0; i < 5; i++) {
    let bytes = randomBytesFrom(random, 1 + Math.floor(random() * 200));
    if (i === 0) bytes = Buffer.concat([Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff]), bytes]);
    const raw = await s.raw(false);
    raw.send(bytes);
    await expectRefused(t, raw, 'PROTOCOL_ERROR', /^the first frame must be a hello; got (not valid msgpack: .+|bad hello at \/.*)$/);
  }
  t.equal(s.server.peers.size, 1, 'no peer was accepted from them');
  await s.stillServing(t);
});

test('truncated msgpack is not valid msgpack, before and after the handshake', async (t) => {
  const s = await startServer(t);
  const whole = tellFrame({ type: 'echo', text: 'x'.repeat(100) });
  for (const cut of [1, 5, Math.floor(whole.length / 2), whole.length - 1]) {
    const raw = await s.raw();
    raw.send(whole.subarray(0, cut));
    await expectRefused(t, raw, 'PROTOCOL_ERROR', new RegExp(`^frame of ${cut} bytes is not valid msgpack: .+`));
  }
  const hello = helloFrame();
  const early = await s.raw(false);
  early.send(hello.subarray(0, hello.length - 3));
  await expectRefused(t, early, 'PROTOCOL_ERROR', /^the first frame must be a hello; got not valid msgpack: .+/);
  t.equal(await s.tellsDelivered(), 0, 'no truncated tell reached the actor');
  await s.stillServing(t);
});

test('a text frame is refused, before and after the handshake', async (t) => {
  const s = await startServer(t);
  const raw = await s.raw();
  raw.send(JSON.stringify({ t: 'tell', to: 'echo', msg: { type: 'echo', text: 'hi' } }), false);
  await expectRefused(t, raw, 'PROTOCOL_ERROR', 'text frames are not part of the protocol; frames are binary msgpack');
  const early = await s.raw(false);
  early.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, name: 'raw', maxFrame: 4096 }), false);
  await expectRefused(t, early, 'PROTOCOL_ERROR', 'the first frame must be a hello; got a text frame; frames are binary msgpack');
  await s.stillServing(t);
});

test('an unknown envelope type is named in the error, including names of Object.prototype members', async (t) => {
  const s = await startServer(t);
  const cases: Array<[unknown, string]> = [
    [{ t: 'subscribe', to: 'echo' }, 'unknown envelope type "subscribe"'],
    [{ t: 'hello', v: PROTOCOL_VERSION, name: 'again', maxFrame: 4096 }, 'unknown envelope type "hello"'],
    // Regression: these found Object.prototype members in a lookup table and threw inside the ws
    // message handler, an uncaught exception that took the whole server process down.
    [{ t: 'constructor' }, 'unknown envelope type "constructor"'],
    [{ t: '__proto__' }, 'unknown envelope type "__proto__"'],
    [{ t: 'toString', to: 'echo', msg: {} }, 'unknown envelope type "toString"'],
    [{ t: 'hasOwnProperty' }, 'unknown envelope type "hasOwnProperty"'],
    // Regression: a uint64 decodes as a BigInt, which JSON.stringify threw on (same crash).
    [{ t: 2n ** 64n - 1n }, 'unknown envelope type 18446744073709551615n'],
    [{ t: 7 }, 'unknown envelope type 7'],
    [{ t: ['tell'] }, 'unknown envelope type an array'],
    [{ t: { t: 'tell' } }, 'unknown envelope type an object'],
    [{ to: 'echo', msg: {} }, 'unknown envelope type undefined'],
    [null, 'unknown envelope type undefined'],
    [['tell', 'echo', {}], 'unknown envelope type undefined'],
  ];
  for (const [envelope, start] of cases) {
    const raw = await s.raw();
    raw.send(frameOf(envelope));
    await expectRefused(t, raw, 'PROTOCOL_ERROR', `${start}; expected one of tell, ask, reply, error, reauth, reauthed`);
  }
  const long = await s.raw();
  long.send(frameOf({ t: 'x'.repeat(20_000) }));
  await expectRefused(t, long, 'PROTOCOL_ERROR', /^unknown envelope type "x{64}…"; expected one of/);
  await s.stillServing(t);
});

test('an envelope with a field of the wrong type names the field', async (t) => {
  const s = await startServer(t);
  const msg = { type: 'echo', text: 'hi' };
  const cases: Array<[unknown, string]> = [
    [{ t: 'ask', id: '1', to: 'echo', msg, ttl: 1000 }, 'bad ask envelope at /id: Expected integer'],
    [{ t: 'ask', id: 1.5, to: 'echo', msg, ttl: 1000 }, 'bad ask envelope at /id: Expected integer'],
    [{ t: 'ask', id: 0, to: 'echo', msg, ttl: 1000 }, 'bad ask envelope at /id: Expected integer to be greater or equal to 1'],
    [{ t: 'ask', id: 1, to: 'echo', msg, ttl: '1000' }, 'bad ask envelope at /ttl: Expected integer'],
    [{ t: 'ask', id: 1, to: 'echo', msg }, 'bad ask envelope at /ttl: Expected required property'],
    [{ t: 'tell', to: 42, msg }, 'bad tell envelope at /to: Expected string'],
    [{ t: 'tell', to: '', msg }, 'bad tell envelope at /to: Expected string length greater or equal to 1'],
    [{ t: 'tell', to: 'echo', msg, extra: true }, 'bad tell envelope at /extra: Unexpected property'],
    [{ t: 'error', code: 'X', message: 'bye', fatal: 'yes' }, 'bad error envelope at /fatal: Expected boolean'],
  ];
  for (const [envelope, message] of cases) {
    const raw = await s.raw();
    raw.send(frameOf(envelope));
    await expectRefused(t, raw, 'PROTOCOL_ERROR', message);
  }
  const reply = await s.raw();
  reply.send(frameOf({ t: 'reply', id: 'one', ok: true, value: 1 }));
  await expectRefused(t, reply, 'PROTOCOL_ERROR', /^bad reply envelope at \//);
  // A peer-chosen property name is quoted in the error, but never at any length.
  const longKey = await s.raw();
  longKey.send(frameOf({ t: 'tell', to: 'echo', msg, ['k'.repeat(50_000)]: 1 }));
  await expectRefused(t, longKey, 'PROTOCOL_ERROR', /^bad tell envelope at \/k+…$/);
  t.ok(String(longKey.errors()[0]?.message).length <= 300, 'a long error message is clipped to 300 characters');
  t.equal(await s.tellsDelivered(), 0, 'none of them reached the actor');
  await s.stillServing(t);
});

test("a tell or ask whose message fails the exposed actor's schema is refused and not delivered", async (t) => {
  const s = await startServer(t);
  const tellRaw = await s.raw();
  tellRaw.send(tellFrame({ type: 'echo', text: 42 }));
  await expectRefused(t, tellRaw, 'PROTOCOL_ERROR', "message to 'echo' does not match its schema at /text: Expected string");
  const missing = await s.raw();
  missing.send(tellFrame({ type: 'echo' }));
  await expectRefused(t, missing, 'PROTOCOL_ERROR', "message to 'echo' does not match its schema at /text: Expected required property");
  const smuggled = await s.raw();
  smuggled.send(tellFrame({ type: 'echo', text: 'hi', replyTo: 'somewhere' }));
  await expectRefused(t, smuggled, 'PROTOCOL_ERROR', "message to 'echo' does not match its schema at /replyTo: Unexpected property");
  const askRaw = await s.raw();
  askRaw.send(frameOf({ t: 'ask', id: 1, to: 'echo', msg: { type: 'echo', text: ['hi'] }, ttl: 1000 }));
  await expectRefused(t, askRaw, 'PROTOCOL_ERROR', "ask to 'echo' does not match its schema at /text: Expected string");
  t.notOk(
    askRaw.received.some((envelope) => envelope.t === 'reply'),
    'the refused ask got no reply',
  );
  t.equal(await s.tellsDelivered(), 0, 'no message that failed the schema reached the actor');

  // The same raw client, well-behaved, is served: the schema, not the connection, was the problem.
  const good = await s.raw();
  good.send(tellFrame({ type: 'echo', text: 'fine' }));
  good.send(frameOf({ t: 'ask', id: 7, to: 'echo', msg: { type: 'echo', text: 'fine' }, ttl: 5_000 }));
  t.match(await good.waitFor((envelope) => envelope.t === 'reply', 'the reply'), { t: 'reply', id: 7, ok: true, value: 'fine' });
  t.equal(await s.tellsDelivered(), 1, 'the valid tell was delivered');
  t.notOk(good.isClosed(), 'a well-behaved raw connection stays open');
  good.ws.close(1000);
  await good.closed;
  await s.stillServing(t);
});

test('a frame over maxFrameBytes closes its connection with 1009, before and after the handshake', async (t) => {
  const s = await startServer(t);
  const raw = await s.raw();
  raw.send(tellFrame({ type: 'echo', text: 'y'.repeat(MAX_FRAME) }));
  t.equal((await raw.closed).code, 1009, 'closed with 1009 (message too big)');
  t.equal(raw.errors().length, 0, 'ws closes it before anything is decoded');
  const early = await s.raw(false);
  early.send(Buffer.alloc(MAX_FRAME + 1, 0xc0));
  t.equal((await early.closed).code, 1009, 'an oversized first frame is closed with 1009 too');
  // One byte under the limit is a frame like any other.
  const fits = await s.raw();
  const text = 'z'.repeat(MAX_FRAME - 64);
  fits.send(frameOf({ t: 'ask', id: 1, to: 'echo', msg: { type: 'echo', text }, ttl: 5_000 }));
  t.match(await fits.waitFor((envelope) => envelope.t === 'reply', 'the reply to a large ask'), { id: 1, ok: true, value: text });
  fits.ws.close(1000);
  await fits.closed;
  await s.stillServing(t);
});

test('a hello with a wrong protocol version is refused with PROTOCOL_VERSION', async (t) => {
  const s = await startServer(t);
  for (const v of [PROTOCOL_VERSION + 1, 0, -1]) {
    const raw = await s.raw(false);
    raw.send(helloFrame({ v }));
    await expectRefused(t, raw, 'PROTOCOL_VERSION', `peer speaks protocol ${v}; this side speaks ${PROTOCOL_VERSION}`);
    t.notOk(raw.received.some((envelope) => envelope.t === 'welcome'), 'no welcome was sent');
  }
  const bad = await s.raw(false);
  bad.send(helloFrame({ v: '1' }));
  await expectRefused(t, bad, 'PROTOCOL_ERROR', 'the first frame must be a hello; got bad hello at /v: Expected integer');
  const small = await s.raw(false);
  small.send(helloFrame({ maxFrame: 10 }));
  await expectRefused(t, small, 'PROTOCOL_ERROR', /^the first frame must be a hello; got bad hello at \/maxFrame: /);
  await s.stillServing(t);
});

test('a connection that never sends hello is closed after handshakeTimeoutMs', async (t) => {
  const s = await startServer(t, { handshakeTimeoutMs: 200 });
  const silent = await s.raw(false);
  const second = await s.raw(false);
  await expectRefused(t, silent, 'HANDSHAKE_TIMEOUT', 'no hello within 200 ms');
  await expectRefused(t, second, 'HANDSHAKE_TIMEOUT', 'no hello within 200 ms');
  // The timer is for the handshake only: a connection that said hello is not closed by it.
  const talker = await s.raw();
  const late = await s.raw(false);
  await expectRefused(t, late, 'HANDSHAKE_TIMEOUT', 'no hello within 200 ms');
  talker.send(frameOf({ t: 'ask', id: 1, to: 'echo', msg: { type: 'echo', text: 'later' }, ttl: 5_000 }));
  t.match(await talker.waitFor((envelope) => envelope.t === 'reply', 'the reply'), { id: 1, ok: true, value: 'later' });
  t.notOk(talker.isClosed(), 'the handshaken connection is still open');
  talker.ws.close(1000);
  await talker.closed;
  await s.stillServing(t);
});

test('pathological msgpack (huge declared lengths, deep nesting) is refused without a large allocation', async (t) => {
  const s = await startServer(t);
  const max32 = [0xff, 0xff, 0xff, 0xff];
  // A tell map header bumped from 2 to 3 entries, so a third key can follow whose value declares a huge array.
  const tellHead = packr.pack({ t: 'tell', to: 'echo' });
  tellHead[0] = 0x83;
  const cases: Array<[string, Buffer]> = [
    ['array32 of 2^32-1 items', Buffer.from([0xdd, ...max32, 0xc0])],
    ['map32 of 2^32-1 entries', Buffer.from([0xdf, ...max32, 0xa1, 0x74])],
    ['str32 of 2^32-1 bytes', Buffer.from([0xdb, ...max32, 0x41, 0x42])],
    ['bin32 of 2^32-1 bytes', Buffer.from([0xc6, ...max32, 0x00])],
    ['ext32 of 2^32-1 bytes', Buffer.from([0xc9, ...max32, 0x01, 0x00])],
    ['array16 of 65535 nested array16s', Buffer.concat(Array.from({ length: 2_000 }, () => Buffer.from([0xdc, 0xff, 0xff])))],
    ['map16 of 65535 nested map16s', Buffer.concat(Array.from({ length: 2_000 }, () => Buffer.from([0xde, 0xff, 0xff, 0xa1, 0x74])))],
    ['a tell whose msg declares 2^32-1 items', Buffer.concat([tellHead, packr.pack('msg'), Buffer.from([0xdd, ...max32])])],
    ['60000 nested arrays', Buffer.concat([Buffer.alloc(60_000, 0x91), Buffer.from([0xc0])])],
    ['20000 nested maps', Buffer.concat([...Array.from({ length: 20_000 }, () => Buffer.from([0x81, 0xa1, 0x74])), Buffer.from([0xc0])])],
  ];
  const rssBefore = process.memoryUsage().rss;
  for (const [name, frame] of cases) {
    for (const handshake of [true, false]) {
      const raw = await s.raw(handshake);
      raw.send(frame);
      await expectRefused(
        t,
        raw,
        'PROTOCOL_ERROR',
        handshake
          ? new RegExp(`^frame of ${frame.length} bytes is not valid msgpack: (Unexpected end of MessagePack data|Maximum call stack size exceeded)$`)
          : /^the first frame must be a hello; got not valid msgpack: (Unexpected end of MessagePack data|Maximum call stack size exceeded)$/,
      );
      t.pass(`${name} (${handshake ? 'after' : 'instead of'} the hello) was refused`);
    }
  }
  const grown = process.memoryUsage().rss - rssBefore;
  t.ok(grown < 256 * 1024 * 1024, `memory stayed bounded (grew ${Math.round(grown / 1024 / 1024)} MB)`);
  // Nesting that does decode is not an envelope, and is said so.
  const nested = await s.raw();
  nested.send(Buffer.concat([Buffer.alloc(1_000, 0x91), Buffer.from([0xc0])]));
  await expectRefused(t, nested, 'PROTOCOL_ERROR', 'unknown envelope type undefined; expected one of tell, ask, reply, error, reauth, reauthed');
  await s.stillServing(t);
});

test('frames sent in the same TCP write as a violation are not delivered', async (t) => {
  const s = await startServer(t);
  const raw = await s.raw();
  // ws emits every frame of a chunk it already read, even after the server closed the connection.
  raw.sendTogether([frameOf({ t: 'nonsense' }), tellFrame({ type: 'echo', text: 'after' }), tellFrame({ type: 'echo', text: 'after' })]);
  await expectRefused(t, raw, 'PROTOCOL_ERROR', 'unknown envelope type "nonsense"; expected one of tell, ask, reply, error, reauth, reauthed');
  t.equal(await s.tellsDelivered(), 0, 'the tells behind the violation were dropped with their connection');
  // Within one frame, envelopes after the bad one are not handled either.
  const batched = await s.raw();
  batched.send(frameOf({ t: 'nonsense' }, { t: 'tell', to: 'echo', msg: { type: 'echo', text: 'after' } }));
  await expectRefused(t, batched, 'PROTOCOL_ERROR', 'unknown envelope type "nonsense"; expected one of tell, ask, reply, error, reauth, reauthed');
  t.equal(await s.tellsDelivered(), 0, 'the tell batched behind the violation was not delivered');
  await s.stillServing(t);
});

test('frames sent right behind the hello, before the welcome, are neither lost nor unchecked', async (t) => {
  const s = await startServer(t);
  // hello + tell + ask in one TCP write: ws hands the server all three before it has answered the hello.
  const eager = await s.raw(false);
  eager.sendTogether([
    helloFrame(),
    tellFrame({ type: 'echo', text: 'early' }),
    frameOf({ t: 'ask', id: 1, to: 'echo', msg: { type: 'echo', text: 'early' }, ttl: 5_000 }),
  ]);
  t.match(await eager.waitFor((envelope) => envelope.t === 'reply', 'the reply to the early ask'), { id: 1, ok: true, value: 'early' });
  t.equal(eager.received[0]?.t, 'welcome', 'the welcome came first');
  t.equal(await s.tellsDelivered(), 1, 'the early tell was delivered');
  // hello + garbage in one write: the garbage gets the same protocol error as after a welcome.
  const rude = await s.raw(false);
  rude.sendTogether([helloFrame(), Buffer.from([0xdd, 0xff])]);
  await expectRefused(t, rude, 'PROTOCOL_ERROR', /^frame of 2 bytes is not valid msgpack: /);
  t.equal(rude.received[0]?.t, 'welcome', 'it was welcomed first');
  eager.ws.close(1000);
  await eager.closed;
  await s.stillServing(t);
});
