// The actors bench: each figure of @lzy/actors next to a raw baseline measured in the same run.
//
//   local-tell       messages/s through one actor system vs a plain array-queue mailbox
//   remote-tell      messages/s from this process to an actor in a peer process vs bare ws + msgpackr
//   remote-ask-p50   sequential ask round trip (ms) vs a bare ws + msgpackr ping-pong
//   remote-ask-p99   likewise, 99th percentile
//   journal-persist  durable events/s through LmdbJournal.persist vs bare lmdb puts + flushed
//
// Rates are the median of a few rounds after a warm-up round; ours and the baseline alternate
// within a round (and swap order from round to round) so drift of this noisy VM hits both.
// LZY_BENCH_QUICK=1 shrinks every size so the whole bench takes a few seconds (for the tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { open as openLmdb } from 'lmdb';
import WebSocket from 'ws';
import {
  ActorError,
  ask,
  LmdbJournal,
  Remoting,
  spawnActor,
  spawnPersistentActor,
  startActorSystem,
  tell,
  type ActorRef,
} from '@lzy/actors';
import { counterReceive, DATA, newPackr, type CounterMsg, type CounterState, type Echo, type EchoMsg, type Inc, type PeerReady } from './actors-wire.js';
import {
  fmt,
  latencyResult,
  log,
  median,
  now,
  percentile,
  rateResult,
  sleep,
  withTimeout,
  yieldToLoop,
  type Result,
} from './util.js';

interface Sizes {
  /** Measured rounds of each rate (after one warm-up round). */
  rounds: number;
  localMessages: number;
  remoteMessages: number;
  /** Messages sent before the sender yields to the event loop (both sides of remote-tell). */
  sendChunk: number;
  asksPerRound: number;
  askRounds: number;
  askWarmup: number;
  journalWriters: number;
  eventsPerWriter: number;
}

const FULL: Sizes = {
  rounds: 5,
  localMessages: 500_000,
  remoteMessages: 200_000,
  sendChunk: 1_000,
  asksPerRound: 2_000,
  askRounds: 3,
  askWarmup: 3_000,
  journalWriters: 64,
  eventsPerWriter: 150,
};

const QUICK: Sizes = {
  rounds: 1,
  localMessages: 5_000,
  remoteMessages: 3_000,
  sendChunk: 500,
  asksPerRound: 40,
  askRounds: 1,
  askWarmup: 10,
  journalWriters: 8,
  eventsPerWriter: 4,
};

/** Longest any single wait of the bench may take before it fails instead of hanging. */
const WAIT_MS = 60_000;
/** Bytes the bare ws sender lets pile up in its socket before it waits, like Remoting's highWaterBytes. */
const WS_HIGH_WATER = 8 * 1024 * 1024;

export async function run({ quick }: { quick: boolean }): Promise<Result[]> {
  const sizes = quick ? QUICK : FULL;
  log(`actors bench (${quick ? 'quick' : 'full'}): ${JSON.stringify(sizes)}`);
  const results: Result[] = [];
  results.push(await localTell(sizes));
  const peer = await startPeer();
  try {
    // Asks first, on a quiet peer (the tell rounds leave garbage behind). Their warm-up is long:
    // on 2 cores, JIT compilation and GC threads of both processes put millisecond spikes into
    // the first few thousand round trips, which would otherwise make p99.
    const asks = await remoteAsk(sizes, peer.info);
    results.push(await remoteTell(sizes, peer.info), ...asks);
  } finally {
    await stopPeer(peer.child);
  }
  results.push(await journalPersist(sizes));
  return results;
}

/** Runs `ours` and `baseline` once per round, alternating which goes first; warm-up round discarded. */
async function alternate(
  label: string,
  rounds: number,
  ours: (round: number) => Promise<number>,
  baseline: (round: number) => Promise<number>,
  unit: string,
): Promise<{ ours: number; baseline: number }> {
  const o: number[] = [];
  const b: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const warm = round === 0;
    let x: number;
    let y: number;
    if (round % 2 === 0) {
      x = await ours(round);
      y = await baseline(round);
    } else {
      y = await baseline(round);
      x = await ours(round);
    }
    log(`  ${label} ${warm ? 'warm-up' : `round ${round}`}: ours ${fmt(x)} ${unit}, baseline ${fmt(y)} ${unit}`);
    if (!warm) {
      o.push(x);
      b.push(y);
    }
  }
  return { ours: median(o), baseline: median(b) };
}

// ---------------------------------------------------------------------------------------------
// local-tell

/**
 * Baseline of local-tell: the least an actor mailbox must do. `tell` pushes onto a plain array
 * and, on the first message of a turn, schedules one setImmediate; that drain loop then calls the
 * plain `receive(state, message)` function on every queued message in a row. No supervision, no
 * async handlers, no per-message scheduling: what is left is the cost of the counting function
 * and of queueing, i.e. what an actor runtime could approach at best.
 */
class PlainMailbox<S, M> {
  private queue: M[] = [];
  private scheduled = false;

  constructor(
    private state: S,
    private readonly receive: (state: S, message: M) => S,
  ) {}

  tell(message: M): void {
    this.queue.push(message);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (let i = 0; i < queue.length; i++) this.state = this.receive(this.state, queue[i]!);
  };
}

type PlainCounterMsg = Inc | { type: 'expect'; n: number; reply: (count: number) => void };
interface PlainCounterState {
  count: number;
  waiting: { n: number; reply: (count: number) => void }[];
}

/** Same logic as `counterReceive`, answering through a callback instead of an actor ref. */
function plainCounterReceive(state: PlainCounterState, message: PlainCounterMsg): PlainCounterState {
  if (message.type === 'inc') {
    state.count++;
    if (state.waiting.length > 0) plainAnswer(state);
  } else {
    state.waiting.push({ n: message.n, reply: message.reply });
    plainAnswer(state);
  }
  return state;
}

function plainAnswer(state: PlainCounterState): void {
  const still: PlainCounterState['waiting'] = [];
  for (const w of state.waiting) {
    if (state.count >= w.n) w.reply(state.count);
    else still.push(w);
  }
  state.waiting = still;
}

async function localTell(sizes: Sizes): Promise<Result> {
  const n = sizes.localMessages;
  log(`local-tell: ${n} tells to a counting actor per round`);
  const message: Inc = { type: 'inc', seq: 0, data: DATA };

  const ours = async (): Promise<number> => {
    const system = startActorSystem({ name: `bench-local-${randomUUID().slice(0, 8)}` });
    try {
      const counter = spawnActor<CounterState, CounterMsg>(system, {
        name: 'counter',
        initialState: () => ({ count: 0, waiting: [] }),
        receive: counterReceive,
      });
      const t0 = now();
      for (let i = 0; i < n; i++) tell(counter, message);
      const counted = await ask(counter, { type: 'expect', n }, WAIT_MS);
      const ms = now() - t0;
      if (counted !== n) throw new Error(`local-tell: counted ${counted}, expected ${n}`);
      return (n * 1000) / ms;
    } finally {
      system.stop();
    }
  };

  const baseline = async (): Promise<number> => {
    const mailbox = new PlainMailbox<PlainCounterState, PlainCounterMsg>({ count: 0, waiting: [] }, plainCounterReceive);
    const t0 = now();
    for (let i = 0; i < n; i++) mailbox.tell(message);
    const counted = await withTimeout(
      new Promise<number>((reply) => mailbox.tell({ type: 'expect', n, reply })),
      WAIT_MS,
      'the plain mailbox to count',
    );
    const ms = now() - t0;
    if (counted !== n) throw new Error(`local-tell baseline: counted ${counted}, expected ${n}`);
    return (n * 1000) / ms;
  };

  const { ours: o, baseline: b } = await alternate('local-tell', sizes.rounds, ours, baseline, 'msg/s');
  const result = rateResult('local-tell', o, b);
  log(`local-tell: ${fmt(o)} msg/s vs plain mailbox ${fmt(b)} msg/s → ratio ${result.ratio}`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// the peer process

interface PeerProcess {
  child: ChildProcess;
  info: PeerReady;
}

async function startPeer(): Promise<PeerProcess> {
  const file = fileURLToPath(new URL('./actors-peer.js', import.meta.url));
  const child = spawn(process.execPath, [file], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const info = await withTimeout(
      new Promise<PeerReady>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! });
        lines.once('line', (line) => {
          lines.close();
          try {
            resolve(JSON.parse(line) as PeerReady);
          } catch {
            reject(new Error(`peer process printed ${JSON.stringify(line)} instead of its ready line`));
          }
        });
        child.once('exit', (code, signal) => reject(new Error(`peer process exited early (${code ?? signal})`)));
      }),
      15_000,
      'the peer process to listen',
    );
    log(`peer process ${child.pid}: remoting at ${info.remoting}, bare ws at ${info.ws}`);
    return { child, info };
  } catch (error) {
    await stopPeer(child);
    throw error;
  }
}

/** Closes the peer's stdin (it exits on that); kills it if it has not exited 3 s later. */
async function stopPeer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  try {
    await withTimeout(exited, 3_000, 'the peer process to exit');
  } catch {
    child.kill('SIGKILL');
    await withTimeout(exited, 3_000, 'the killed peer process to exit').catch(() => {});
  }
}

/** A bare ws connection to the peer's baseline server, with msgpackr on both ends. */
class BareClient {
  readonly packr = newPackr();
  private counted: { n: number; resolve: (count: number) => void }[] = [];
  private echoWaiter: ((echo: Echo) => void) | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const message = this.packr.unpack(data) as { type: string; n?: number } & Partial<Echo>;
      if (message.type === 'echo') {
        const waiter = this.echoWaiter;
        this.echoWaiter = undefined;
        waiter?.(message as Echo);
      } else if (message.type === 'counted') {
        const count = message.n!;
        this.counted = this.counted.filter((w) => (count >= w.n ? (w.resolve(count), false) : true));
      }
    });
  }

  static async connect(url: string): Promise<BareClient> {
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
    socket.on('error', () => {});
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('close', () => reject(new Error(`bare ws connection to ${url} closed`)));
      }),
      10_000,
      `the bare ws connection to ${url}`,
    );
    return new BareClient(socket);
  }

  /** Resolves once the peer has counted `n` inc messages on this connection in all. */
  expect(n: number): Promise<number> {
    return new Promise((resolve) => {
      this.counted.push({ n, resolve });
      this.socket.send(this.packr.pack({ type: 'expect', n }), { binary: true });
    });
  }

  /** The next echo; only one may be awaited at a time (the ping-pong is sequential). */
  nextEcho(): Promise<Echo> {
    return new Promise((resolve) => {
      this.echoWaiter = resolve;
    });
  }

  close(): void {
    this.socket.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// remote-tell

async function remoteTell(sizes: Sizes, info: PeerReady): Promise<Result> {
  const n = sizes.remoteMessages;
  const chunk = sizes.sendChunk;
  log(`remote-tell: ${n} tells per round to an actor in the peer process, yielding every ${chunk}`);
  const remoting = new Remoting({ name: 'bench-a' });
  const peer = remoting.connect(info.remoting, { whileDisconnected: 'fail' });
  const bare = await BareClient.connect(info.ws);
  try {
    await withTimeout(peer.ready, 10_000, 'the handshake with the peer');
    const counter = peer.ref<CounterMsg>('counter');
    let oursSent = 0;
    let bareSent = 0;
    let queueFullWaits = 0;
    let highWaterWaits = 0;

    // Ours: tell() each payload; Remoting batches what is told within one turn into one ws frame.
    // A tell that finds the peer's send queue full throws QUEUE_FULL: wait 1 ms and retry it.
    const ours = async (): Promise<number> => {
      const deadline = Date.now() + WAIT_MS;
      const t0 = now();
      let i = 0;
      while (i < n) {
        const end = Math.min(n, i + chunk);
        while (i < end) {
          try {
            tell(counter, { type: 'inc', seq: i, data: DATA });
            i++;
          } catch (error) {
            if (!isQueueFull(error)) throw error;
            if (Date.now() > deadline) throw new Error(`remote-tell: the send queue stayed full for ${WAIT_MS} ms`);
            queueFullWaits++;
            await sleep(1);
          }
        }
        await yieldToLoop();
      }
      oursSent += n;
      // The ask queues behind the tells, so it too may find the send queue full.
      let counted: number | undefined;
      while (counted === undefined) {
        try {
          counted = await ask(counter, { type: 'expect', n: oursSent }, WAIT_MS);
        } catch (error) {
          if (!isQueueFull(error)) throw error;
          if (Date.now() > deadline) throw new Error(`remote-tell: the send queue stayed full for ${WAIT_MS} ms`);
          queueFullWaits++;
          await sleep(1);
        }
      }
      const ms = now() - t0;
      if (counted !== oursSent) throw new Error(`remote-tell: the peer counted ${counted}, expected ${oursSent}`);
      return (n * 1000) / ms;
    };

    // Baseline: each payload msgpack-encoded and sent as its own ws message, same chunking; waits
    // 1 ms while more than WS_HIGH_WATER bytes sit unsent in the socket.
    const baseline = async (): Promise<number> => {
      const deadline = Date.now() + WAIT_MS;
      const { socket, packr } = bare;
      const t0 = now();
      let i = 0;
      while (i < n) {
        const end = Math.min(n, i + chunk);
        while (i < end) {
          if (socket.bufferedAmount > WS_HIGH_WATER) {
            if (Date.now() > deadline) throw new Error(`remote-tell baseline: the socket stayed full for ${WAIT_MS} ms`);
            highWaterWaits++;
            await sleep(1);
            continue;
          }
          socket.send(packr.pack({ type: 'inc', seq: i, data: DATA }), { binary: true });
          i++;
        }
        await yieldToLoop();
      }
      bareSent += n;
      const counted = await withTimeout(bare.expect(bareSent), WAIT_MS, 'the bare ws peer to count');
      const ms = now() - t0;
      if (counted !== bareSent) throw new Error(`remote-tell baseline: the peer counted ${counted}, expected ${bareSent}`);
      return (n * 1000) / ms;
    };

    const { ours: o, baseline: b } = await alternate('remote-tell', sizes.rounds, ours, baseline, 'msg/s');
    if (queueFullWaits + highWaterWaits > 0) {
      log(`remote-tell: senders waited for backpressure: ours ${queueFullWaits}× (QUEUE_FULL), baseline ${highWaterWaits}×`);
    }
    const result = rateResult('remote-tell', o, b);
    log(`remote-tell: ${fmt(o)} msg/s vs bare ws ${fmt(b)} msg/s → ratio ${result.ratio} (goal ≥ 0.6)`);
    return result;
  } finally {
    bare.close();
    await remoting.close();
  }
}

/** A send refused because the peer's bounded send queue is full (backpressure): retry later. */
function isQueueFull(error: unknown): boolean {
  return error instanceof ActorError && error.code === 'QUEUE_FULL';
}

// ---------------------------------------------------------------------------------------------
// remote-ask

async function remoteAsk(sizes: Sizes, info: PeerReady): Promise<Result[]> {
  log(`remote-ask: ${sizes.askRounds} round(s) of ${sizes.asksPerRound} sequential asks after ${sizes.askWarmup} warm-up`);
  const remoting = new Remoting({ name: 'bench-a-ask' });
  const peer = remoting.connect(info.remoting, { whileDisconnected: 'fail' });
  const bare = await BareClient.connect(info.ws);
  try {
    await withTimeout(peer.ready, 10_000, 'the handshake with the peer');
    const echo = peer.ref<EchoMsg>('echo');

    const ours = async (count: number): Promise<number[]> => {
      const samples: number[] = [];
      for (let i = 0; i < count; i++) {
        const t0 = now();
        const reply = await ask(echo, { type: 'echo', seq: i, data: DATA }, 10_000);
        samples.push(now() - t0);
        if (reply.seq !== i) throw new Error(`remote-ask: reply to ${reply.seq}, expected ${i}`);
      }
      return samples;
    };

    // Baseline: send the encoded payload, the peer decodes it and sends it back re-encoded, decode.
    // One timer bounds the whole round instead of one per ping, so the baseline pays no timer.
    const baseline = async (count: number): Promise<number[]> => {
      const samples: number[] = [];
      const { socket, packr } = bare;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        bare.socket.terminate();
      }, WAIT_MS);
      try {
        for (let i = 0; i < count; i++) {
          const t0 = now();
          const next = bare.nextEcho();
          socket.send(packr.pack({ type: 'echo', seq: i, data: DATA }), { binary: true });
          const reply = await Promise.race([next, closed(socket)]);
          samples.push(now() - t0);
          if (reply === undefined) throw new Error(`remote-ask baseline: connection closed${timedOut ? ` after ${WAIT_MS} ms` : ''}`);
          if (reply.seq !== i) throw new Error(`remote-ask baseline: reply to ${reply.seq}, expected ${i}`);
        }
      } finally {
        clearTimeout(timer);
      }
      return samples;
    };

    await ours(sizes.askWarmup);
    await baseline(sizes.askWarmup);
    const o: number[] = [];
    const b: number[] = [];
    for (let round = 1; round <= sizes.askRounds; round++) {
      let x: number[];
      let y: number[];
      if (round % 2 === 1) {
        x = await ours(sizes.asksPerRound);
        y = await baseline(sizes.asksPerRound);
      } else {
        y = await baseline(sizes.asksPerRound);
        x = await ours(sizes.asksPerRound);
      }
      log(
        `  remote-ask round ${round}: ours p50 ${percentile(x, 50).toFixed(3)} ms p99 ${percentile(x, 99).toFixed(3)} ms, ` +
          `baseline p50 ${percentile(y, 50).toFixed(3)} ms p99 ${percentile(y, 99).toFixed(3)} ms`,
      );
      o.push(...x);
      b.push(...y);
    }
    const p50 = latencyResult('remote-ask-p50', percentile(o, 50), percentile(b, 50));
    const p99 = latencyResult('remote-ask-p99', percentile(o, 99), percentile(b, 99));
    log(`remote-ask: p50 ${p50.value} ms vs ${p50.baseline} ms → ratio ${p50.ratio}; p99 ${p99.value} ms vs ${p99.baseline} ms → ratio ${p99.ratio}`);
    return [p50, p99];
  } finally {
    bare.close();
    await remoting.close();
  }
}

/** Resolves (with undefined) once `socket` has closed; for racing a reply against a dead connection. */
const closedPromises = new WeakMap<WebSocket, Promise<undefined>>();
function closed(socket: WebSocket): Promise<undefined> {
  let promise = closedPromises.get(socket);
  if (!promise) {
    promise =
      socket.readyState === WebSocket.CLOSED
        ? Promise.resolve(undefined)
        : new Promise<undefined>((resolve) => socket.once('close', () => resolve(undefined)));
    closedPromises.set(socket, promise);
  }
  return promise;
}

// ---------------------------------------------------------------------------------------------
// journal-persist

interface EventData {
  writer: number;
  seq: number;
  payload: string;
}

async function journalPersist(sizes: Sizes): Promise<Result> {
  const writers = sizes.journalWriters;
  const perWriter = sizes.eventsPerWriter;
  const total = writers * perWriter;
  log(`journal-persist: ${writers} writers × ${perWriter} events per round, each awaiting its ack (on disk) before the next`);
  const root = mkdtempSync(join(tmpdir(), 'lzy-bench-journal-'));
  let dirs = 0;
  const freshDir = () => join(root, `env-${dirs++}`);
  const eventData = (writer: number, seq: number): EventData => ({ writer, seq, payload: DATA });

  try {
    // Ours: LmdbJournal.persist, which puts {data, tags, createdAt} at [key, seq] and awaits flushed.
    const ours = async (): Promise<number> => {
      const dir = freshDir();
      const journal = LmdbJournal.open(dir);
      try {
        const t0 = now();
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            const key = `writer-${w}`;
            for (let seq = 1; seq <= perWriter; seq++) {
              await journal.persist({ key, sequenceNumber: seq, data: eventData(w, seq), tags: [], createdAt: Date.now(), isDeleted: false });
            }
          }),
        );
        const ms = now() - t0;
        if (journal.lastSequenceNumber('writer-0') !== perWriter) throw new Error('journal-persist: events missing after the run');
        return (total * 1000) / ms;
      } finally {
        await journal.close();
        rmSync(dir, { recursive: true, force: true });
      }
    };

    // Baseline: a fresh lmdb env opened with the journal's options, the same value at the same
    // key in a db of the same name, so lmdb writes the same bytes; each put awaited, then flushed.
    const baseline = async (): Promise<number> => {
      const dir = freshDir();
      const env = openLmdb({ path: dir, maxDbs: 16 });
      const db = env.openDB<{ data: EventData; tags: string[]; createdAt: number }, [string, number]>({ name: 'journal.events' });
      try {
        const t0 = now();
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            const key = `writer-${w}`;
            for (let seq = 1; seq <= perWriter; seq++) {
              await db.put([key, seq], { data: eventData(w, seq), tags: [], createdAt: Date.now() });
              await env.flushed;
            }
          }),
        );
        const ms = now() - t0;
        if (db.get(['writer-0', perWriter]) === undefined) throw new Error('journal-persist baseline: events missing after the run');
        return (total * 1000) / ms;
      } finally {
        await env.flushed;
        await env.close();
        rmSync(dir, { recursive: true, force: true });
      }
    };

    const { ours: o, baseline: b } = await alternate('journal-persist', sizes.rounds, ours, baseline, 'events/s');
    const result = rateResult('journal-persist', o, b, 'events/s');
    log(`journal-persist: ${fmt(o)} events/s vs bare lmdb ${fmt(b)} events/s → ratio ${result.ratio} (goal ≥ 0.5)`);

    // For information only (not in the contract line): the same load through persistent actors,
    // one per writer, each command persisting one event.
    const info = await persistentActors(freshDir(), writers, perWriter);
    log(`journal-persist (info): through ${writers} persistent actors ${fmt(info)} events/s`);
    return result;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

type PersistMsg = { type: 'persist'; data: EventData } | { type: 'count'; replyTo: ActorRef<number> };

async function persistentActors(dir: string, writers: number, perWriter: number): Promise<number> {
  const journal = LmdbJournal.open(dir);
  const system = startActorSystem({ name: `bench-persist-${randomUUID().slice(0, 8)}`, persistence: journal });
  try {
    const actors = Array.from({ length: writers }, (_, w) =>
      spawnPersistentActor<number, PersistMsg, EventData>(system, {
        key: `actor-${w}`,
        initialState: () => 0,
        command: async (state, message, ctx) => {
          if (message.type === 'persist') await ctx.persist(message.data);
          else tell(message.replyTo, state);
        },
        apply: (state) => state + 1,
      }),
    );
    // Let recovery of the (empty) journals finish before timing.
    await Promise.all(actors.map((actor) => ask(actor, { type: 'count' }, WAIT_MS)));
    const t0 = now();
    actors.forEach((actor, w) => {
      for (let seq = 1; seq <= perWriter; seq++) tell(actor, { type: 'persist', data: { writer: w, seq, payload: DATA } });
    });
    const counts = await Promise.all(actors.map((actor) => ask(actor, { type: 'count' }, WAIT_MS)));
    const ms = now() - t0;
    if (counts.some((c) => c !== perWriter)) throw new Error(`persistent actors counted ${counts.join(',')}, expected ${perWriter} each`);
    return (writers * perWriter * 1000) / ms;
  } finally {
    system.stop();
    await journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
