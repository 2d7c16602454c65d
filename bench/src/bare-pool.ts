// The bare pool of the benches' baselines: worker processes (bare-pool-worker.ts) that run a
// no-op over IPC, with nothing of Lzy in between.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { log, now, withTimeout } from './util.js';

interface PendingCall {
  worker: number;
  resolve(value: number): void;
  reject(error: Error): void;
}

/**
 * The baseline: worker processes (child_process.fork, advanced serialization, like the agents'
 * runners) that run the same no-op, called over IPC with `{ id, i }` and answering `{ id, value }`.
 * No graph, no scheduler, no journal, no agent in between: what is left is the cost of a process
 * hop and back, i.e. what an op round trip could approach at best.
 */
export class BarePool {
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 0;

  private constructor(private readonly workers: ChildProcess[]) {
    workers.forEach((worker, w) => {
      worker.on('message', (message: { id: number; value: number }) => {
        const call = this.pending.get(message.id);
        if (!call) return;
        this.pending.delete(message.id);
        call.resolve(message.value);
      });
      worker.once('exit', (code, signal) => {
        for (const [id, call] of this.pending) {
          if (call.worker !== w) continue;
          this.pending.delete(id);
          call.reject(new Error(`bare pool worker ${worker.pid} exited (${signal ?? `code ${code}`})`));
        }
      });
    });
  }

  static async start(count: number): Promise<BarePool> {
    const file = fileURLToPath(new URL('./bare-pool-worker.js', import.meta.url));
    const workers: ChildProcess[] = [];
    try {
      for (let w = 0; w < count; w++) {
        // No inherited node flags (e.g. --cpu-prof on the bench): the baseline stays the same however the bench runs.
        const worker = fork(file, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        workers.push(worker);
        await withTimeout(
          new Promise<void>((resolve, reject) => {
            worker.once('message', () => resolve());
            worker.once('exit', (code, signal) => reject(new Error(`bare pool worker exited early (${signal ?? `code ${code}`})`)));
          }),
          15_000,
          'a bare pool worker to start',
        );
      }
    } catch (error) {
      await Promise.all(workers.map(stopWorker));
      throw error;
    }
    log(`bare pool: workers ${workers.map((w) => w.pid).join(', ')}`);
    return new BarePool(workers);
  }

  /** Calls the no-op with `i` on worker `w`; resolves with what it returned. */
  call(w: number, i: number): Promise<number> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker: w, resolve, reject });
      this.workers[w]!.send({ id, i });
    });
  }

  /**
   * Runs calls 0..n-1, call i on worker i mod W (round-robin), keeping up to `inFlight` calls in
   * flight per worker (as a node runs up to `slots` attempts); returns the ms until every reply.
   */
  async runCalls(n: number, inFlight: number, boundMs: number): Promise<number> {
    const count = this.workers.length;
    const next = this.workers.map((_, w) => w);
    const lane = async (w: number): Promise<void> => {
      for (;;) {
        const i = next[w]!;
        if (i >= n) return;
        next[w] = i + count;
        const value = await this.call(w, i);
        if (value !== i) throw new Error(`bare pool: call ${i} returned ${value}`);
      }
    };
    const t0 = now();
    const lanes: Promise<void>[] = [];
    for (let w = 0; w < count; w++) for (let k = 0; k < inFlight; k++) lanes.push(lane(w));
    await withTimeout(Promise.all(lanes), boundMs, `the bare pool to run ${n} calls`);
    return now() - t0;
  }

  /** `count` sequential round trips to the first worker; the ms of each. */
  async roundTrips(count: number, boundMs: number): Promise<number[]> {
    const samples: number[] = [];
    // One timer bounds all the round trips, so that no round trip pays for a timer of its own.
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`bare pool: ${count} round trips took longer than ${boundMs} ms`)), boundMs);
    });
    expired.catch(() => {});
    try {
      for (let i = 0; i < count; i++) {
        const t0 = now();
        const value = await Promise.race([this.call(0, i), expired]);
        samples.push(now() - t0);
        if (value !== i) throw new Error(`bare pool: call ${i} returned ${value}`);
      }
    } finally {
      clearTimeout(timer);
    }
    return samples;
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map(stopWorker));
  }
}

/** Disconnects a worker (it exits on that); kills it if it has not exited 3 s later. */
async function stopWorker(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  if (worker.connected) worker.disconnect();
  try {
    await withTimeout(exited, 3_000, 'a bare pool worker to exit');
  } catch {
    worker.kill('SIGKILL');
    await withTimeout(exited, 3_000, 'a killed bare pool worker to exit').catch(() => {});
  }
}
