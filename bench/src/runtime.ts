// The runtime bench: ops through the whole Lzy path (SDK → graph → scheduler → node-agent →
// runner → result) on 2 local node-agents, each figure next to a bare baseline measured in the
// same run.
//
//   ops-throughput  ops/s of one workflow of independent no-op calls, awaited with Promise.all,
//                   vs a bare pool of 2 forked worker processes running the same no-op over IPC
//   op-latency-p50  a 1-op workflow (warm nodes, sequential), ms, vs one IPC round trip to a worker
//   op-latency-p99  likewise, 99th percentile
//   dag-10k         ms to build, submit and run a chain-and-fan DAG of 10,000 no-op ops, vs the
//                   bare pool running 10,000 calls
//   dag-100k        the same DAG shape with 100,000 ops, vs 10 × the dag-10k time (ratio 1.0 = the
//                   runtime scales linearly with the size of the graph)
//
// Ours and the baseline alternate within a round (and swap order from round to round) where a
// figure has several rounds. Every phase is bounded in time: a workflow that runs past its bound
// is cancelled and the bench fails, naming the phase and logging the figures that finished.
// LZY_BENCH_QUICK=1 shrinks every size so the whole bench takes seconds (for the tests).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lzy, WorkflowCancelledError, type Lazy } from '@lzy/sdk';
import { BarePool } from './bare-pool.js';
import { after, agentOf, noop } from './runtime-ops.js';
import { fmt, latencyResult, log, median, now, percentile, rateResult, withTimeout, type Result } from './util.js';

interface Sizes {
  /** No-op calls in each warm-up workflow; warm-up workflows run until both agents have run ops. */
  warmupOps: number;
  throughputOps: number;
  /**
   * Rounds of ops-throughput run first and discarded (ours and the baseline each once per round):
   * the JIT of the whole path at this size. Our 8 runner processes each run an eighth of a round,
   * and still spend about three times their steady CPU per op in the round after the first.
   */
  throughputWarmupRounds: number;
  /**
   * Measured rounds of ops-throughput (ours and the baseline each once per round), after the warm-up
   * rounds; the figures are the medians. A round lasts well under a second, about as long as one
   * stall of this shared VM, so five rounds keep one stalled round from deciding the figure.
   */
  throughputRounds: number;
  latencyWarmup: number;
  /** 1-op workflows measured in all (split over the rounds). */
  latencySamples: number;
  latencyRounds: number;
  bareLatencyWarmup: number;
  /** Bare round trips measured in all (split over the rounds). */
  bareLatencySamples: number;
  dagSmall: number;
  /** Runs of the small DAG (the median is the figure, and 1/10 of the large DAG's baseline). */
  dagSmallRounds: number;
  dagLarge: number;
  /** Bounds (ms) of each phase. */
  bounds: { warmup: number; throughputRound: number; latency: number; dagSmall: number; dagLarge: number; bare: number };
}

const FULL: Sizes = {
  warmupOps: 200,
  throughputOps: 10_000,
  throughputWarmupRounds: 2,
  throughputRounds: 5,
  latencyWarmup: 30,
  latencySamples: 500,
  latencyRounds: 2,
  bareLatencyWarmup: 2_000,
  bareLatencySamples: 10_000,
  dagSmall: 10_000,
  dagSmallRounds: 3,
  dagLarge: 100_000,
  bounds: { warmup: 60_000, throughputRound: 180_000, latency: 180_000, dagSmall: 180_000, dagLarge: 600_000, bare: 60_000 },
};

const QUICK: Sizes = {
  warmupOps: 20,
  throughputOps: 300,
  throughputWarmupRounds: 1,
  throughputRounds: 1,
  latencyWarmup: 3,
  latencySamples: 20,
  latencyRounds: 1,
  bareLatencyWarmup: 50,
  bareLatencySamples: 200,
  dagSmall: 300,
  dagSmallRounds: 1,
  dagLarge: 3_000,
  bounds: { warmup: 60_000, throughputRound: 60_000, latency: 60_000, dagSmall: 60_000, dagLarge: 90_000, bare: 30_000 },
};

/** The pool of the bench: 2 local nodes (node-agent processes) of 4 slots, never released while it runs. */
const POOL = { name: 'default', cpu: 2, memoryMb: 2048, slots: 4, maxNodes: 2, idleTimeoutMs: 600_000 };
/** Worker processes of the bare pool: as many as our nodes. */
const BARE_WORKERS = POOL.maxNodes;
/** Calls the bare pool keeps in flight per worker: as many as a node has slots. */
const BARE_IN_FLIGHT = POOL.slots;
/** How often a long phase reports on stderr. */
const PROGRESS_EVERY_MS = 5_000;

/**
 * The DAG of dag-10k and dag-100k, a chain with fans: chain links L0 → L1 → L2 → …, where every
 * FAN_EVERY-th link fans out into FAN children (each taking that link's result) and the next link
 * takes all of those children as inputs (fan-in), i.e. with FAN_EVERY = 2 and FAN = 30:
 *
 *   L0 → L1 ─┬→ c1 … c30 ─┬→ L2 → L3 ─┬→ c31 … c60 ─┬→ L4 → …
 *
 * 32 ops per period, 3 of them one after the other (two links, then the fan in parallel), so the
 * graph has both long dependency chains and wide fan-outs/fan-ins. The first op has no inputs; the
 * last period is cut short so that the total is exactly N ops. Every op is `after(i, ...inputs)`
 * with a unique i (its position), so no two calls are merged as identical.
 */
const FAN_EVERY = 2;
const FAN = 30;

export async function run({ quick }: { quick: boolean }): Promise<Result[]> {
  const sizes = quick ? QUICK : FULL;
  log(`runtime bench (${quick ? 'quick' : 'full'}): ${JSON.stringify(sizes)}`);
  log(`pool ${JSON.stringify(POOL)}; bare pool of ${BARE_WORKERS} workers, ≤ ${BARE_IN_FLIGHT} calls in flight each`);
  const dir = mkdtempSync(join(tmpdir(), 'lzy-bench-runtime-'));
  const results: Result[] = [];
  let bare: BarePool | undefined;
  let lzy: Lzy | undefined;
  try {
    bare = await BarePool.start(BARE_WORKERS);
    const t0 = now();
    lzy = await Lzy.start({ dataDir: join(dir, 'lzy'), pools: [POOL], onLog: () => {} });
    log(`embedded runtime started in ${(now() - t0).toFixed(0)} ms (data dir ${dir})`);
    await warmUp(lzy, bare, sizes);
    results.push(await opsThroughput(lzy, bare, sizes));
    results.push(...(await opLatency(lzy, bare, sizes)));
    const small = await dagSmall(lzy, bare, sizes);
    results.push(small.result);
    results.push(await dagLarge(lzy, sizes, small.ms));
    return results;
  } catch (error) {
    const done = results.length > 0 ? results.map((r) => JSON.stringify(r)).join('\n  ') : 'none';
    log(`runtime bench: stopped by a failure; figures that finished:\n  ${done}`);
    throw error;
  } finally {
    if (lzy) await withTimeout(lzy.close(), 30_000, 'the Lzy client to close').catch((error: Error) => log(`runtime bench: ${error.message}`));
    if (bare) await bare.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// running workflows, bounded

/** A counter of ops done that reports on stderr every few seconds while a long phase runs. */
class Progress {
  done = 0;
  private last = 0;
  private lastAt: number;
  private readonly started: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly label: string,
    readonly total: number,
  ) {
    this.started = this.lastAt = now();
    this.timer = setInterval(() => this.report(), PROGRESS_EVERY_MS);
  }

  readonly tick = <T>(value: T): T => {
    this.done++;
    return value;
  };

  private report(): void {
    const at = now();
    const rate = ((this.done - this.last) * 1000) / (at - this.lastAt);
    const count = (x: number) => Math.round(x).toLocaleString('en-US');
    log(`  ${this.label}: ${count(this.done)}/${count(this.total)} done (${count(rate)}/s lately), ${((at - this.started) / 1000).toFixed(1)} s`);
    this.last = this.done;
    this.lastAt = at;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Runs `fn` as a workflow; past `boundMs` the workflow is cancelled and this rejects with what the
 * phase is and how far it got. A second, later timer covers a cancellation that does not return.
 */
async function workflow<T>(lzy: Lzy, name: string, fn: () => Promise<T>, boundMs: number, progress?: Progress): Promise<T> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(`the bench's bound of ${boundMs} ms`), boundMs);
  try {
    return await withTimeout(lzy.workflow(name, fn, { signal: abort.signal }), boundMs + 30_000, `workflow ${name}`);
  } catch (error) {
    if (error instanceof WorkflowCancelledError || abort.signal.aborted) {
      const how = progress ? ` (${progress.done} of ${progress.total} done)` : '';
      throw new Error(`workflow ${name} did not finish within ${boundMs} ms${how}: ${(error as Error).message}`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// warm-up

/**
 * Runs small workflows until both agents (nodes) are up and have run ops, so that no figure pays
 * for a node starting; the bare pool's workers are warmed up alongside.
 */
async function warmUp(lzy: Lzy, bare: BarePool, sizes: Sizes): Promise<void> {
  const t0 = now();
  const deadline = Date.now() + sizes.bounds.warmup;
  const agents = new Set<number>();
  let workflows = 0;
  while (agents.size < POOL.maxNodes) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`warm-up: only ${agents.size} of ${POOL.maxNodes} agents ran ops within ${sizes.bounds.warmup} ms`);
    const n = sizes.warmupOps;
    const seen = await workflow(
      lzy,
      'warm-up',
      async () => {
        const calls = Array.from({ length: n }, (_, i) => noop(workflows * n + i));
        const where = Array.from({ length: POOL.slots * POOL.maxNodes }, (_, i) => agentOf(i));
        await Promise.all(calls);
        return Promise.all(where);
      },
      left,
    );
    for (const { agent } of seen) agents.add(agent);
    workflows++;
  }
  await bare.runCalls(sizes.warmupOps * 10, BARE_IN_FLIGHT, sizes.bounds.bare);
  log(`warm-up: ${workflows} workflow(s), agents ${[...agents].join(', ')} up, in ${(now() - t0).toFixed(0)} ms`);
}

// ---------------------------------------------------------------------------------------------
// ops-throughput

async function opsThroughput(lzy: Lzy, bare: BarePool, sizes: Sizes): Promise<Result> {
  const n = sizes.throughputOps;
  log(`ops-throughput: ${fmt(n)} independent no-op calls in one workflow per round, ${sizes.throughputRounds} round(s) after ${sizes.throughputWarmupRounds} warm-up round(s)`);

  const ours = async (): Promise<number> => {
    const progress = new Progress('ops-throughput ours', n);
    try {
      const t0 = now();
      const values = await workflow(
        lzy,
        'ops-throughput',
        async () => {
          const calls: Lazy<number>[] = [];
          for (let i = 0; i < n; i++) calls.push(noop(i));
          return Promise.all(calls.map((call) => call.then(progress.tick)));
        },
        sizes.bounds.throughputRound,
        progress,
      );
      const ms = now() - t0;
      checkValues('ops-throughput', values, n);
      return (n * 1000) / ms;
    } finally {
      progress.stop();
    }
  };
  const baseline = async (): Promise<number> => {
    const ms = await bare.runCalls(n, BARE_IN_FLIGHT, sizes.bounds.bare);
    return (n * 1000) / ms;
  };

  const o: number[] = [];
  const b: number[] = [];
  // The first rounds warm up (JIT of the whole path at this size) and are discarded.
  const warmup = sizes.throughputWarmupRounds;
  for (let round = 0; round < warmup + sizes.throughputRounds; round++) {
    const warm = round < warmup;
    let x: number;
    let y: number;
    if (round % 2 === 0) {
      x = await ours();
      y = await baseline();
    } else {
      y = await baseline();
      x = await ours();
    }
    log(`  ops-throughput ${warm ? `warm-up ${round + 1}` : `round ${round - warmup + 1}`}: ours ${fmt(x)} ops/s, bare pool ${fmt(y)} ops/s`);
    if (warm) continue;
    o.push(x);
    b.push(y);
  }
  const result = rateResult('ops-throughput', median(o), median(b), 'ops/s');
  log(`ops-throughput: ${fmt(result.value)} ops/s vs bare pool ${fmt(result.baseline)} ops/s → ratio ${result.ratio}`);
  return result;
}

/** The no-ops return their argument: result i must be i. */
function checkValues(what: string, values: readonly number[], n: number): void {
  if (values.length !== n) throw new Error(`${what}: ${values.length} results, expected ${n}`);
  for (let i = 0; i < n; i++) {
    if (values[i] !== i) throw new Error(`${what}: result ${i} is ${values[i]}, expected ${i}`);
  }
}

// ---------------------------------------------------------------------------------------------
// op-latency

async function opLatency(lzy: Lzy, bare: BarePool, sizes: Sizes): Promise<Result[]> {
  const perRound = Math.ceil(sizes.latencySamples / sizes.latencyRounds);
  const barePerRound = Math.ceil(sizes.bareLatencySamples / sizes.latencyRounds);
  log(
    `op-latency: ${sizes.latencyRounds} round(s) of ${perRound} sequential 1-op workflows after ${sizes.latencyWarmup} warm-up; ` +
      `bare: ${barePerRound} round trips per round after ${sizes.bareLatencyWarmup}`,
  );
  const deadline = Date.now() + sizes.bounds.latency;
  let i = 0;

  const ours = async (count: number): Promise<number[]> => {
    const samples: number[] = [];
    for (let k = 0; k < count; k++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`op-latency: the phase did not finish within ${sizes.bounds.latency} ms (${i} workflows run)`);
      const input = i++;
      const t0 = now();
      const value = await workflow(lzy, 'one', async () => noop(input), left);
      samples.push(now() - t0);
      if (value !== input) throw new Error(`op-latency: the op returned ${value}, expected ${input}`);
    }
    return samples;
  };
  const baseline = (count: number): Promise<number[]> => bare.roundTrips(count, sizes.bounds.bare);

  await ours(sizes.latencyWarmup);
  await baseline(sizes.bareLatencyWarmup);
  const o: number[] = [];
  const b: number[] = [];
  for (let round = 1; round <= sizes.latencyRounds; round++) {
    let x: number[];
    let y: number[];
    if (round % 2 === 1) {
      x = await ours(perRound);
      y = await baseline(barePerRound);
    } else {
      y = await baseline(barePerRound);
      x = await ours(perRound);
    }
    log(
      `  op-latency round ${round}: ours p50 ${percentile(x, 50).toFixed(3)} ms p99 ${percentile(x, 99).toFixed(3)} ms, ` +
        `bare p50 ${percentile(y, 50).toFixed(3)} ms p99 ${percentile(y, 99).toFixed(3)} ms`,
    );
    o.push(...x);
    b.push(...y);
  }
  const p50 = latencyResult('op-latency-p50', percentile(o, 50), percentile(b, 50));
  const p99 = latencyResult('op-latency-p99', percentile(o, 99), percentile(b, 99));
  log(`op-latency: p50 ${p50.value} ms vs ${p50.baseline} ms → ratio ${p50.ratio}; p99 ${p99.value} ms vs ${p99.baseline} ms → ratio ${p99.ratio}`);
  return [p50, p99];
}

// ---------------------------------------------------------------------------------------------
// dag-10k, dag-100k

async function dagSmall(lzy: Lzy, bare: BarePool, sizes: Sizes): Promise<{ result: Result; ms: number }> {
  const small = sizes.dagSmall;
  log(`dag: chain-and-fan DAGs (a fan of ${FAN} after every ${FAN_EVERY} chain links) of ${fmt(small)} and ${fmt(sizes.dagLarge)} ops`);

  // Each round: our DAG, then the bare pool running as many independent calls.
  const oursTimes: number[] = [];
  const bareTimes: number[] = [];
  for (let round = 1; round <= sizes.dagSmallRounds; round++) {
    oursTimes.push(await runDag(lzy, `dag-${label(small)}`, small, sizes.bounds.dagSmall));
    bareTimes.push(await bare.runCalls(small, BARE_IN_FLIGHT, sizes.bounds.bare));
    log(`  dag-10k round ${round}: ours ${fmt(oursTimes.at(-1)!)} ms, bare pool ${fmt(bareTimes.at(-1)!)} ms`);
  }
  const oursSmall = median(oursTimes);
  const smallResult = latencyResult('dag-10k', oursSmall, median(bareTimes));
  log(`dag-10k: ${fmt(oursSmall)} ms vs bare pool ${fmt(smallResult.baseline)} ms for ${fmt(small)} calls → ratio ${smallResult.ratio}`);
  return { result: smallResult, ms: oursSmall };
}

/** The large DAG; its baseline is the small DAG's time scaled by the sizes (linear growth). */
async function dagLarge(lzy: Lzy, sizes: Sizes, oursSmall: number): Promise<Result> {
  const small = sizes.dagSmall;
  const large = sizes.dagLarge;
  const oursLarge = await runDag(lzy, `dag-${label(large)}`, large, sizes.bounds.dagLarge);
  const scale = large / small;
  const largeResult = latencyResult('dag-100k', oursLarge, oursSmall * scale);
  log(`dag-100k: ${fmt(oursLarge)} ms vs ${scale} × dag-10k = ${fmt(oursSmall * scale)} ms → ratio ${largeResult.ratio} (1.0 = linear)`);
  return largeResult;
}

function label(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

/** Builds, submits and runs the chain-and-fan DAG of `n` ops in one workflow; returns the ms it took. */
async function runDag(lzy: Lzy, name: string, n: number, boundMs: number): Promise<number> {
  const progress = new Progress(`${name} ours`, n);
  let built = 0;
  let firstResult = 0;
  try {
    const t0 = now();
    const values = await workflow(
      lzy,
      name,
      async () => {
        const calls = buildDag(n);
        built = now() - t0;
        // Awaiting the calls submits the graph (the first barrier) and waits for every op.
        return Promise.all(
          calls.map((call) =>
            call.then((value) => {
              if (progress.done === 0) firstResult = now() - t0;
              return progress.tick(value);
            }),
          ),
        );
      },
      boundMs,
      progress,
    );
    const ms = now() - t0;
    checkValues(name, values, n);
    log(`  ${name}: built in ${fmt(built)} ms, first result at ${fmt(firstResult)} ms, all ${fmt(n)} done in ${fmt(ms)} ms`);
    return ms;
  } finally {
    progress.stop();
  }
}

/** Records the calls of the chain-and-fan DAG (see FAN_EVERY) in the current workflow; call i returns i. */
function buildDag(n: number): Lazy<number>[] {
  const calls: Lazy<number>[] = [];
  let inputs: Lazy<number>[] = [];
  let links = 0;
  while (calls.length < n) {
    const link = after(calls.length, ...inputs);
    calls.push(link);
    inputs = [link];
    links++;
    if (links % FAN_EVERY !== 0) continue;
    const fan: Lazy<number>[] = [];
    for (let f = 0; f < FAN && calls.length < n; f++) {
      const child = after(calls.length, link);
      calls.push(child);
      fan.push(child);
    }
    if (fan.length > 0) inputs = fan;
  }
  return calls;
}
