// Fuzzes a live Remoting server (in its own process, fixtures/bad-server.ts, so a crash is the
// process exiting) with random frames over many raw connections — random bytes, mutated and
// truncated valid frames, random msgpack values of random shapes, pathological headers, text
// frames — while a well-behaved client keeps asking it and must keep getting correct answers.
// Bounded: FUZZ_FRAMES frames (default 3000) or FUZZ_MS ms (default 15000), whichever comes first.
// The run is seeded (FUZZ_SEED) and prints its seed, so a failure can be replayed.
import t from 'tap';
import { Remoting, ask, type ActorRef } from '../src/index.js';
import { startFixture } from './harness.js';
import { frameOf, helloFrame, openRaw, prng, randomBytesFrom, type RawClient } from './fixtures/bad-raw-client.js';

const MAX_FRAMES = Number(process.env.FUZZ_FRAMES ?? 3_000);
const MAX_MS = Number(process.env.FUZZ_MS ?? 15_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WORKERS = 6;
const SERVER_MAX_FRAME = 64 * 1024;
/** Close codes a fuzz connection may see: ours (1000), a protocol error (1002), bad UTF-8 text (1007),
 * an oversized frame (1009), and an abrupt end (1006: the server terminates after a fatal error envelope from us). */
const EXPECTED_CLOSE_CODES = new Set([1000, 1002, 1006, 1007, 1009]);
/** Codes of the fatal error envelopes the server may send. */
const EXPECTED_ERROR_CODES = new Set(['PROTOCOL_ERROR', 'PROTOCOL_VERSION', 'HANDSHAKE_TIMEOUT']);
/** The probe each connection ends with: an id no generated ask uses. */
const PROBE_ID = Number.MAX_SAFE_INTEGER;

type EchoMsg =
  | { type: 'echo'; text: string; replyTo: ActorRef<string> }
  | { type: 'count'; replyTo: ActorRef<number> };
type StatsMsg = { type: 'stats'; replyTo: ActorRef<{ rss: number; heapUsed: number }> };

t.test('a server fuzzed with broken frames keeps serving a good client and never crashes', async (t) => {
  t.comment(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  const random = prng(SEED);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

  const child = startFixture(t, 'bad-server');
  const first = await child.waitForLine((line) => /^(listening|crash) /.test(line), 'the fixture server to listen');
  t.match(first, /^listening ws:\/\//, 'the fixture server is listening');
  const url = first.slice('listening '.length);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void child.exited.then((value) => (exit = value));
  const crashed = () => exit !== undefined || child.lines.some((line) => line.startsWith('crash '));

  // The well-behaved client, asking all along.
  const client = new Remoting({ name: 'good' });
  t.teardown(() => client.close());
  const peer = client.connect(url);
  await peer.ready;
  const echo = peer.ref<EchoMsg>('echo');
  let stop = false;
  let goodAnswers = 0;
  const goodFailures: string[] = [];
  const goodLoop = (async () => {
    for (let i = 0; !stop; i++) {
      const text = `good ${i}`;
      try {
        const answer = await ask(echo, { type: 'echo', text }, 10_000);
        if (answer === text) goodAnswers++;
        else goodFailures.push(`asked ${text}, got ${JSON.stringify(answer)}`);
      } catch (error) {
        goodFailures.push(`asked ${text}: ${(error as Error).message}`);
        return; // one failure fails the test; asking on would only repeat it
      }
    }
  })();

  // ---- frame generators -------------------------------------------------------------------
  const shortString = () =>
    pick(['', 'echo', 'stats', 'tell', 'ask', 'reply', 'error', 'hello', '__proto__', 'constructor', 'x'.repeat(int(2_000))]) ||
    randomBytesFrom(random, int(20)).toString('latin1');
  const scalar = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => undefined,
      () => random() < 0.5,
      () => int(2 ** 31) - 2 ** 30,
      () => pick([0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 63), Number.MAX_SAFE_INTEGER, Number.MIN_VALUE]),
      () => pick([2n ** 64n - 1n, -(2n ** 63n), 2n ** 53n + 1n]),
      () => shortString(),
      () => randomBytesFrom(random, int(64)),
      () => new Date(int(2 ** 40)),
    ])();
  const value = (depth: number): unknown => {
    if (depth <= 0 || random() < 0.4) return scalar();
    if (random() < 0.5) return Array.from({ length: int(6) }, () => value(depth - 1));
    const object: Record<string, unknown> = {};
    for (let i = int(6); i > 0; i--) {
      const key = random() < 0.7 ? pick(['t', 'to', 'msg', 'id', 'ttl', 'ok', 'type', 'text', 'v']) : shortString();
      // An own property even for `__proto__`, so that key goes on the wire as is.
      Object.defineProperty(object, key, { value: value(depth - 1), enumerable: true, writable: true, configurable: true });
    }
    return object;
  };
  /** A valid envelope of a random type, to send as is or to break. */
  const validEnvelope = (): Record<string, unknown> =>
    pick<() => Record<string, unknown>>([
      () => ({ t: 'tell', to: 'echo', msg: { type: 'echo', text: shortString().slice(0, 100) } }),
      () => ({ t: 'ask', id: 1 + int(1_000), to: pick(['echo', 'stats', 'missing']), msg: { type: pick(['echo', 'count', 'stats']), text: 'q' }, ttl: 1 + int(5_000) }),
      () => ({ t: 'ask', id: 1 + int(1_000), to: 'stats', msg: { type: 'stats' }, ttl: 5_000 }),
      () => ({ t: 'reply', id: 1 + int(1_000), ok: true, value: value(2) }),
      () => ({ t: 'reply', id: 1 + int(1_000), ok: false, error: { code: 'X', name: 'Error', message: 'm' } }),
      () => ({ t: 'error', code: 'SOMETHING', message: 'notice', fatal: random() < 0.2 }),
      () => ({ t: 'hello', v: 1, name: 'fuzz', maxFrame: 1024 * (1 + int(1_000)) }),
    ])();
  /** An envelope with the right shape but one field replaced, added or removed. */
  const skewedEnvelope = () => {
    const envelope = validEnvelope();
    const keys = Object.keys(envelope);
    const action = int(3);
    if (action === 0) envelope[pick(keys)] = value(2);
    else if (action === 1) envelope[pick(['extra', 'replyTo', ...keys])] = value(3);
    else delete envelope[pick(keys)];
    return envelope;
  };
  const mutate = (input: Buffer): Buffer => {
    let bytes = Buffer.from(input);
    for (let n = 1 + int(4); n > 0 && bytes.length > 0; n--) {
      const at = int(bytes.length);
      switch (int(7)) {
        case 0:
          bytes[at] = bytes[at]! ^ (1 << int(8));
          break;
        case 1:
          bytes[at] = int(256);
          break;
        case 2: // a header byte declaring a big container, string, binary or ext
          bytes[at] = pick([0xdc, 0xdd, 0xde, 0xdf, 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xd4, 0xd8, 0xcf, 0xd3, 0xc1]);
          if (random() < 0.5) bytes.fill(0xff, Math.min(bytes.length, at + 1), Math.min(bytes.length, at + 5));
          break;
        case 3:
          bytes = Buffer.concat([bytes.subarray(0, at), randomBytesFrom(random, 1 + int(8)), bytes.subarray(at)]);
          break;
        case 4:
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + int(8)))]);
          break;
        case 5:
          bytes = bytes.subarray(0, at);
          break;
        default:
          bytes = Buffer.concat([bytes, bytes.subarray(at)]);
      }
    }
    return bytes;
  };
  const frame = (): { data: Buffer | string; binary: boolean; kind: string } => {
    const roll = int(100);
    const binary = (data: Buffer, kind: string) => ({ data, binary: true, kind });
    if (roll < 18) return binary(randomBytesFrom(random, 1 + int(300)), 'random bytes');
    if (roll < 21) return binary(randomBytesFrom(random, SERVER_MAX_FRAME - 1_000 + int(2_000)), 'random bytes near the size limit');
    if (roll < 40) return binary(mutate(frameOf(...Array.from({ length: 1 + int(3) }, validEnvelope))), 'mutated valid frame');
    if (roll < 48) {
      const whole = frameOf(...Array.from({ length: 1 + int(3) }, validEnvelope));
      return binary(whole.subarray(0, int(whole.length)), 'truncated valid frame');
    }
    if (roll < 66) return binary(frameOf(...Array.from({ length: 1 + int(3) }, () => value(1 + int(4)))), 'random msgpack values');
    if (roll < 74) return binary(frameOf(...Array.from({ length: 1 + int(3) }, skewedEnvelope)), 'skewed envelopes');
    if (roll < 80) {
      const envelope = validEnvelope();
      envelope.t = random() < 0.6 ? pick(['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'Tell', 'tell ']) : scalar();
      return binary(frameOf(envelope), 'odd envelope type');
    }
    if (roll < 88) return binary(frameOf(...Array.from({ length: 1 + int(4) }, validEnvelope)), 'valid envelopes');
    if (roll < 92) {
      const header = pick([[0xdd], [0xdf], [0xdb], [0xc6], [0xc9], [0xdc], [0xde]]);
      return binary(Buffer.concat([Buffer.from(header), Buffer.alloc(4, 0xff), randomBytesFrom(random, int(40))]), 'pathological header');
    }
    if (roll < 94) return binary(Buffer.alloc(1 + int(20_000), pick([0x91, 0x81])), 'deep nesting');
    if (roll < 97) {
      const text = JSON.stringify(validEnvelope(), (_key, item: unknown) => (typeof item === 'bigint' ? String(item) : item));
      return { data: text, binary: false, kind: 'text frame' };
    }
    return { data: randomBytesFrom(random, 1 + int(50)), binary: false, kind: 'text frame, maybe bad UTF-8' };
  };

  // ---- the loop ----------------------------------------------------------------------------
  const deadline = Date.now() + MAX_MS;
  let framesSent = 0;
  let connections = 0;
  const closeCodes = new Map<number, number>();
  const kinds = new Map<string, number>();
  const problems: string[] = [];
  const open = new Set<RawClient>();
  t.teardown(() => {
    for (const raw of open) raw.ws.terminate();
  });

  const oneConnection = async () => {
    let raw: RawClient;
    try {
      raw = await openRaw(url);
    } catch (error) {
      if (!crashed()) problems.push(`could not connect: ${(error as Error).message}`);
      return;
    }
    open.add(raw);
    connections++;
    const said: string[] = [];
    if (random() < 0.85) {
      raw.send(random() < 0.95 ? helloFrame() : mutate(helloFrame()));
      said.push('hello');
    }
    for (let n = 1 + int(4); n > 0 && framesSent < MAX_FRAMES && !raw.isClosed(); n--) {
      let next: ReturnType<typeof frame>;
      try {
        next = frame();
      } catch (error) {
        problems.push(`the frame generator threw (a test bug): ${(error as Error).message}`);
        continue;
      }
      framesSent++;
      kinds.set(next.kind, (kinds.get(next.kind) ?? 0) + 1);
      said.push(next.kind);
      raw.send(next.data, next.binary);
    }
    // End with a probe: the server must either answer it or have closed the connection.
    raw.send(frameOf({ t: 'ask', id: PROBE_ID, to: 'echo', msg: { type: 'echo', text: 'probe' }, ttl: 10_000 }));
    const answered = await raw.nextOrClose((envelope) => envelope.t === 'reply' && envelope.id === PROBE_ID, 'the probe reply', 20_000).then(
      (reply) => reply !== undefined,
      () => false,
    );
    if (answered) raw.ws.close(1000);
    else if (!raw.isClosed()) {
      problems.push(`connection neither answered its probe nor was closed after: ${said.join(', ')}`);
      raw.ws.terminate();
    }
    const { code } = await raw.closed;
    open.delete(raw);
    closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
    if (!EXPECTED_CLOSE_CODES.has(code)) problems.push(`unexpected close code ${code} after: ${said.join(', ')}`);
    if (raw.received.some((item) => 'undecodable' in item)) problems.push(`the server sent an undecodable frame after: ${said.join(', ')}`);
    for (const error of raw.errors()) {
      if (error.fatal !== true) continue;
      if (!EXPECTED_ERROR_CODES.has(String(error.code))) problems.push(`unexpected fatal error code ${String(error.code)}`);
      if (typeof error.message !== 'string' || error.message.length === 0 || error.message.length > 300) {
        problems.push(`unclear fatal error message ${JSON.stringify(error.message)?.slice(0, 100)}`);
      }
    }
    if (code === 1002 && !raw.errors().some((error) => error.fatal === true)) {
      problems.push(`closed with 1002 without a fatal error envelope after: ${said.join(', ')}`);
    }
  };

  try {
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (framesSent < MAX_FRAMES && Date.now() < deadline && !crashed()) {
          await oneConnection().catch((error: Error) => problems.push(`the fuzz loop threw (a test bug): ${error.stack ?? error.message}`));
        }
      }),
    );
  } finally {
    stop = true;
  }
  const answersDuring = goodAnswers;
  await goodLoop;
  t.comment(`${framesSent} frames over ${connections} connections; close codes ${JSON.stringify([...closeCodes])}`);
  t.comment(`frame kinds ${JSON.stringify([...kinds])}`);

  t.notOk(crashed(), 'the server process did not crash', { lines: child.lines.filter((line) => line.startsWith('crash ')), exit });
  if (crashed()) return; // nothing after this could pass
  t.ok(framesSent > 0 && connections > 0, 'frames were sent');
  t.same(problems.slice(0, 20), [], 'every fuzz connection was answered or closed cleanly with a clear error');
  t.same(goodFailures.slice(0, 20), [], 'the good client got every answer right during the loop');
  t.ok(answersDuring > 0, `the good client was answered during the loop (${answersDuring} answers)`);
  t.ok(closeCodes.get(1002) ?? 0, 'some connections were closed for protocol errors');

  // And after it: the same good client, and a fresh connection, are served.
  for (let i = 0; i < 20; i++) t.equal(await ask(echo, { type: 'echo', text: `after ${i}` }, 10_000), `after ${i}`);
  t.equal(peer.state, 'open', "the good client's connection never dropped");
  const fresh = new Remoting({ name: 'fresh' });
  t.teardown(() => fresh.close());
  const freshPeer = fresh.connect(url);
  await freshPeer.ready;
  t.equal(await ask(freshPeer.ref<EchoMsg>('echo'), { type: 'echo', text: 'fresh' }, 10_000), 'fresh', 'a new client is served');
  const stats = await ask(freshPeer.ref<StatsMsg>('stats'), { type: 'stats' }, 10_000);
  t.ok(stats.rss < 1024 * 1024 * 1024, `the server's memory stayed bounded (rss ${Math.round(stats.rss / 1024 / 1024)} MB)`);
  t.notOk(crashed(), 'the server process is still running');
});
