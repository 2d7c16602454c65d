// The workflows bench: many small workflows, each `lzy.workflow(name, async () => await op(x))`
// as a user who runs a workflow per request would write it, on 2 local node-agents (as in the
// runtime bench), each figure next to the durable floor measured in the same run: a bare pool of
// 2 worker processes over IPC whose calls' inputs and results are written to a bare lmdb
// environment and flushed to disk, batched across the calls in flight (durable-floor.ts).
//
//   workflow-1op-p50            ms from `lzy.workflow` to its result, a 1-op workflow, one at a
//   workflow-1op-p99            time, warm; vs one durable call of the floor
//   workflow-chain3-p50         the same for a 3-step chain `noop(noop(noop(i)))`; vs 3 durable
//                               calls one after the other
//   workflows-1op-per-s         1-op workflows per second with 64 in flight; vs durable calls per
//                               second, 64 in flight
//   workflows-chain3-per-s      3-step chains per second, 64 in flight; vs durable 3-call chains
//   remote-workflow-1op-p50     as workflow-1op-p50, through `lzy server` (its own process) and
//   remote-workflows-1op-per-s  `Lzy.connect`; vs the same floor figures
//   workflows-1op-per-s-after-100k
//                               1-op workflows per second over workflows 90,000–100,000 of one
//                               run of 100,000 (64 in flight); its baseline is the rate over the
//                               first 10,000 of that run, so the ratio says whether the rate
//                               decays as the journal grows (1.0 = it does not)
//   rss-after-100k              this process's RSS (MiB) after the long run's last workflow; its
//                               baseline is the RSS after its first window, and the ratio is
//                               baseline / value (0.8 = 25% more memory after 10x the runs)
//   status-after-100k           ms for what `lzy status` asks (the newest page of runs) after the
//                               long run, p50 of 21; its baseline is the same before the long run
//
// Ours and the floor alternate within each figure's rounds. Every phase is bounded in time (one
// timer per phase, none per workflow).
// LZY_BENCH_QUICK=1 runs smaller sizes (one to two minutes; the long run is 10,000 workflows, its
// windows the first and last 1,000).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Lzy } from '@lzy/sdk';
import { DurableFloor } from './durable-floor.js';
import { agentOf, noop } from './runtime-ops.js';
import { fmt, latencyResult, log, median, now, percentile, rateResult, withTimeout, type Result } from './util.js';

interface Sizes {
  /** 1-op workflows one at a time before any figure, after both agents have run ops. */
  warmup: number;
  /** Workflows measured one at a time, in all (split over the rounds); the floor runs as many calls. */
  latencySamples: number;
  /** Chains measured one at a time, in all. */
  chainSamples: number;
  /** Workflows of each throughput round. */
  throughputWorkflows: number;
  /** Rounds of each latency and throughput figure (ours and the floor once each per round); the throughput figures are medians. */
  rounds: number;
  /** Workflows of the long run, and of each of its two windows. */
  longRun: number;
  longWindow: number;
  /** Bounds (ms) of each phase. */
  bounds: { warmup: number; phase: number; longRun: number };
}

const FULL: Sizes = {
  warmup: 200,
  latencySamples: 1_000,
  chainSamples: 500,
  throughputWorkflows: 5_000,
  rounds: 3,
  longRun: 100_000,
  longWindow: 10_000,
  bounds: { warmup: 60_000, phase: 300_000, longRun: 1_800_000 },
};

const QUICK: Sizes = {
  warmup: 50,
  latencySamples: 200,
  chainSamples: 100,
  throughputWorkflows: 1_000,
  rounds: 1,
  longRun: 10_000,
  longWindow: 1_000,
  bounds: { warmup: 60_000, phase: 120_000, longRun: 300_000 },
};

/** The pool of the bench: 2 local nodes of 4 slots, as in the runtime bench, never released while it runs. */
const POOL = { name: 'default', cpu: 2, memoryMb: 2048, slots: 4, maxNodes: 2, idleTimeoutMs: 600_000 };
/** Worker processes of the durable floor: as many as our nodes. */
const FLOOR_WORKERS = POOL.maxNodes;
/** Workflows (and the floor's chains) in flight in the throughput figures. */
const IN_FLIGHT = 64;
/** How often the long run reports on stderr. */
const PROGRESS_EVERY_MS = 5_000;

/** One workflow of the bench: runs the workflow for input `i`, resolves with its result. */
type Workflow = (i: number) => Promise<number>;

const oneOp = (lzy: Lzy): Workflow => (i) => lzy.workflow('one', async () => await noop(i));
const chain3 = (lzy: Lzy): Workflow => (i) => lzy.workflow('chain3', async () => await noop(noop(noop(i))));

export async function run({ quick }: { quick: boolean }): Promise<Result[]> {
  const sizes = quick ? QUICK : FULL;
  log(`workflows bench (${quick ? 'quick' : 'full'}): ${JSON.stringify(sizes)}`);
  log(`pool ${JSON.stringify(POOL)}; durable floor of ${FLOOR_WORKERS} workers; ${IN_FLIGHT} in flight for the rates`);
  const dir = mkdtempSync(join(tmpdir(), 'lzy-bench-workflows-'));
  const results: Result[] = [];
  let floor: DurableFloor | undefined;
  let lzy: Lzy | undefined;
  let server: LzyServer | undefined;
  try {
    floor = await DurableFloor.start(FLOOR_WORKERS, join(dir, 'floor'));
    const t0 = now();
    lzy = await Lzy.start({ dataDir: join(dir, 'lzy'), pools: [POOL], onLog: () => {} });
    log(`embedded runtime started in ${(now() - t0).toFixed(0)} ms (data dir ${dir})`);
    await warmUp('embedded', lzy, floor, sizes);
    const [p50, p99] = await latency('workflow-1op', oneOp(lzy), 1, floor, sizes.latencySamples, sizes);
    results.push(p50!, p99!);
    results.push((await latency('workflow-chain3', chain3(lzy), 3, floor, sizes.chainSamples, sizes))[0]!);
    results.push(await throughput('workflows-1op-per-s', oneOp(lzy), 1, floor, sizes));
    results.push(await throughput('workflows-chain3-per-s', chain3(lzy), 3, floor, sizes));
    const statusBefore = await statusLatency(lzy);
    results.push(...(await longRun(oneOp(lzy), sizes)));
    const statusAfter = await statusLatency(lzy);
    const status = latencyResult('status-after-100k', statusAfter, statusBefore);
    log(`status-after-100k: a page of runs in ${status.value} ms after the long run (${status.baseline} ms before) → ratio ${status.ratio}`);
    results.push(status);
    await lzy.close();
    lzy = undefined;

    server = await LzyServer.start(join(dir, 'server'));
    lzy = await Lzy.connect({ endpoint: server.url, token: server.adminToken, onLog: () => {} });
    log(`lzy server ${server.url} (pid ${server.pid})`);
    await warmUp('remote', lzy, floor, sizes);
    results.push((await latency('remote-workflow-1op', oneOp(lzy), 1, floor, sizes.latencySamples, sizes))[0]!);
    results.push(await throughput('remote-workflows-1op-per-s', oneOp(lzy), 1, floor, sizes));
    return results;
  } catch (error) {
    const done = results.length > 0 ? results.map((r) => JSON.stringify(r)).join('\n  ') : 'none';
    log(`workflows bench: stopped by a failure; figures that finished:\n  ${done}`);
    throw error;
  } finally {
    if (lzy) await withTimeout(lzy.close(), 30_000, 'the Lzy client to close').catch((error: Error) => log(`workflows bench: ${error.message}`));
    if (server) await server.stop();
    if (floor) await floor.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// phases

/** Runs workflows until both agents have run ops, then `sizes.warmup` 1-op workflows; the floor is warmed alongside. */
async function warmUp(label: string, lzy: Lzy, floor: DurableFloor, sizes: Sizes): Promise<void> {
  const t0 = now();
  const deadline = Date.now() + sizes.bounds.warmup;
  const agents = new Set<number>();
  while (agents.size < POOL.maxNodes) {
    if (Date.now() > deadline) throw new Error(`warm-up (${label}): only ${agents.size} of ${POOL.maxNodes} agents ran ops within ${sizes.bounds.warmup} ms`);
    const seen = await lzy.workflow('warm-up', () => Promise.all(Array.from({ length: POOL.slots * POOL.maxNodes }, (_, i) => agentOf(i))));
    for (const { agent } of seen) agents.add(agent);
  }
  await withTimeout(sequentially(oneOp(lzy), sizes.warmup), sizes.bounds.warmup, `the ${label} warm-up`);
  await floor.sequential(sizes.warmup, 1, sizes.bounds.warmup);
  log(`warm-up (${label}): agents ${[...agents].join(', ')} up; ${sizes.warmup} workflows in ${(now() - t0).toFixed(0)} ms`);
}

/** The p50 and p99 of `samples` workflows run one at a time, vs as many chains of `length` durable calls. */
async function latency(name: string, workflow: Workflow, length: number, floor: DurableFloor, samples: number, sizes: Sizes): Promise<[Result, Result]> {
  const perRound = Math.ceil(samples / sizes.rounds);
  const ours: number[] = [];
  const base: number[] = [];
  await alternate(
    sizes.rounds,
    async () => ours.push(...(await withTimeout(sequentially(workflow, perRound), sizes.bounds.phase, name))),
    async () => base.push(...(await floor.sequential(perRound, length, sizes.bounds.phase))),
  );
  const p50 = latencyResult(`${name}-p50`, percentile(ours, 50), percentile(base, 50));
  const p99 = latencyResult(`${name}-p99`, percentile(ours, 99), percentile(base, 99));
  log(`${name}: p50 ${p50.value} ms (floor ${p50.baseline} ms) → ratio ${p50.ratio}; p99 ${p99.value} ms (floor ${p99.baseline} ms) → ratio ${p99.ratio}`);
  return [p50, p99];
}

/** Workflows per second with IN_FLIGHT in flight (median of the rounds), vs the floor's chains of `length`. */
async function throughput(name: string, workflow: Workflow, length: number, floor: DurableFloor, sizes: Sizes): Promise<Result> {
  const n = sizes.throughputWorkflows;
  const ours: number[] = [];
  const base: number[] = [];
  await alternate(
    sizes.rounds,
    async () => {
      const t0 = now();
      await withTimeout(concurrently(workflow, n, () => {}), sizes.bounds.phase, name);
      ours.push((n * 1000) / (now() - t0));
    },
    async () => base.push((n * 1000) / (await floor.concurrent(n, length, IN_FLIGHT, sizes.bounds.phase))),
  );
  const result = rateResult(name, median(ours), median(base), 'workflows/s');
  log(`${name}: ${fmt(result.value)}/s (floor ${fmt(result.baseline)}/s) → ratio ${result.ratio}`);
  return result;
}

/**
 * One long run of 1-op workflows, 64 in flight: the rate over its last window against the rate
 * over its first, and this process's memory at the end against after the first window.
 */
async function longRun(workflow: Workflow, sizes: Sizes): Promise<Result[]> {
  const n = sizes.longRun;
  const w = sizes.longWindow;
  log(`long run: ${fmt(n)} workflows; windows of ${fmt(w)}`);
  const marks = new Map<number, number>();
  let done = 0;
  let memoryFirst: Memory | undefined;
  let last = { done: 0, at: now() };
  const progress = setInterval(() => {
    const at = now();
    log(`  long run: ${fmt(done)}/${fmt(n)} (${fmt(((done - last.done) * 1000) / (at - last.at))}/s lately), rss ${mib(process.memoryUsage().rss)} MiB`);
    last = { done, at };
  }, PROGRESS_EVERY_MS);
  try {
    marks.set(0, now());
    await withTimeout(
      concurrently(workflow, n, () => {
        done++;
        if (done === w || done === n - w || done === n) marks.set(done, now());
        if (done === w) memoryFirst = memory();
      }),
      sizes.bounds.longRun,
      'the long run',
    );
  } finally {
    clearInterval(progress);
  }
  const memoryLast = memory();
  const first = (w * 1000) / (marks.get(w)! - marks.get(0)!);
  const lastRate = (w * 1000) / (marks.get(n)! - marks.get(n - w)!);
  const rate = rateResult('workflows-1op-per-s-after-100k', lastRate, first, 'workflows/s');
  const rss = latencyResult('rss-after-100k', memoryLast.rss, memoryFirst!.rss, 'MiB');
  log(`long run: ${fmt(lastRate)}/s over the last ${fmt(w)} vs ${fmt(first)}/s over the first → ratio ${rate.ratio}`);
  log(`  this process after ${fmt(w)}: ${describeMemory(memoryFirst!)}`);
  log(`  this process after ${fmt(n)}: ${describeMemory(memoryLast)} → ratio ${rss.ratio}`);
  return [rate, rss];
}

/** How long the newest page of runs takes to come back, as `lzy status` asks for it (p50 of 21, ms). */
async function statusLatency(lzy: Lzy): Promise<number> {
  // The client's connection is what `lzy status` uses; the SDK keeps it to itself.
  const connection = lzy['connection'];
  const samples: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = now();
    await connection.list();
    samples.push(now() - t0);
  }
  return percentile(samples, 50);
}

/** This process's memory (MiB): its RSS, split into anonymous and file-backed pages where Linux says, and the JS heap. */
interface Memory {
  rss: number;
  anon?: number;
  file?: number;
  heapUsed: number;
  heapTotal: number;
}

function memory(): Memory {
  const usage = process.memoryUsage();
  const figures: Memory = { rss: mib(usage.rss), heapUsed: mib(usage.heapUsed), heapTotal: mib(usage.heapTotal) };
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    figures.anon = Math.round(kib('RssAnon') / 1024);
    figures.file = Math.round(kib('RssFile') / 1024);
  } catch {
    // Not Linux: the RSS alone.
  }
  return figures;
}

function describeMemory({ rss, anon, file, heapUsed, heapTotal }: Memory): string {
  const split = anon === undefined ? '' : ` (anonymous ${anon}, file-backed ${file})`;
  return `rss ${rss} MiB${split}; JS heap ${heapUsed} of ${heapTotal} MiB`;
}

// ---------------------------------------------------------------------------------------------
// running workflows

/** Runs `workflow` for 0..count-1 one after the other; the ms of each. */
async function sequentially(workflow: Workflow, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = now();
    const value = await workflow(i);
    samples.push(now() - t0);
    if (value !== i) throw new Error(`workflow ${i} returned ${value}`);
  }
  return samples;
}

/** Runs `workflow` for 0..count-1, IN_FLIGHT at a time, calling `onDone` after each. */
async function concurrently(workflow: Workflow, count: number, onDone: () => void): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const value = await workflow(i);
      if (value !== i) throw new Error(`workflow ${i} returned ${value}`);
      onDone();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

/** Runs `rounds` rounds of ours and the floor, ours first in odd rounds and second in even ones. */
async function alternate(rounds: number, ours: () => Promise<unknown>, floor: () => Promise<unknown>): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    if (round % 2 === 1) {
      await ours();
      await floor();
    } else {
      await floor();
      await ours();
    }
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

// ---------------------------------------------------------------------------------------------
// lzy server

/** `lzy server` in a process of its own, with the bench's pool, on a free port. */
class LzyServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly adminToken: string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(dataDir: string): Promise<LzyServer> {
    const bin = join(dirname(createRequire(import.meta.url).resolve('@lzy/cli/package.json')), 'bin', 'lzy.js');
    const pools = `${dataDir}-pools.json`;
    writeFileSync(pools, JSON.stringify([POOL]));
    // The bench's own node flags (e.g. --cpu-prof) do not reach the server; LZY_BENCH_SERVER_NODE_OPTIONS gives it some.
    const flags = process.env.LZY_BENCH_SERVER_NODE_OPTIONS;
    const child = spawn(process.execPath, [bin, 'server', '--port', '0', '--data-dir', dataDir, '--pools', pools], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: flags === undefined ? process.env : { ...process.env, NODE_OPTIONS: flags },
    });
    const lines = createInterface({ input: child.stdout! });
    const listening = new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => line.startsWith('lzy server listening on ') && resolve(line.slice('lzy server listening on '.length)));
      child.once('exit', (code, signal) => reject(new Error(`lzy server exited (${signal ?? `code ${code}`}) before it listened`)));
    });
    try {
      const url = await withTimeout(listening, 30_000, 'lzy server to listen');
      return new LzyServer(child, url, readFileSync(join(dataDir, 'admin.token'), 'utf8').trim());
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** SIGTERM, as an operator stops it; SIGKILL if it is still there 15 s later. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await withTimeout(exited, 15_000, 'lzy server to stop').catch(() => {
      this.child.kill('SIGKILL');
      return exited;
    });
  }
}
