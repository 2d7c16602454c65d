// The workflows bench's baseline, the durable floor: the bare pool of worker processes over IPC,
// where each call's input is written to a bare lmdb environment and flushed to disk before the
// call goes out, and its result likewise before the call counts. The writes of the calls in
// flight share their disk flushes: lmdb-js commits the puts of one turn as one transaction, and
// puts made while a commit is under way go together in the next. No graph, no actors, no
// journal format: what a durable call of a no-op costs at least on this machine.
import { open, type RootDatabase } from 'lmdb';
import { BarePool } from './bare-pool.js';
import { now, withTimeout } from './util.js';

export class DurableFloor {
  private nextCall = 0;

  private constructor(
    private readonly pool: BarePool,
    private readonly db: RootDatabase<number, string>,
    private readonly workers: number,
  ) {}

  /** Starts `workers` worker processes and opens (creating) the lmdb environment in `dir`. */
  static async start(workers: number, dir: string): Promise<DurableFloor> {
    const pool = await BarePool.start(workers);
    return new DurableFloor(pool, open<number, string>({ path: dir }), workers);
  }

  /** One durable call of the no-op with `i`: its input on disk, the call on a worker, its result on disk. */
  async call(i: number): Promise<number> {
    const id = this.nextCall++;
    await this.durably(`in:${id}`, i);
    const value = await this.pool.call(id % this.workers, i);
    await this.durably(`out:${id}`, value);
    return value;
  }

  /** `length` durable calls one after the other, each taking the previous one's result: a chain. */
  async chain(i: number, length: number): Promise<number> {
    let value = i;
    for (let k = 0; k < length; k++) value = await this.call(value);
    return value;
  }

  /** Chains of `length` one at a time, `count` of them; the ms of each. */
  async sequential(count: number, length: number, boundMs: number): Promise<number[]> {
    const deadline = Date.now() + boundMs;
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      if (Date.now() > deadline) throw new Error(`durable floor: ${count} chains one at a time took longer than ${boundMs} ms`);
      const t0 = now();
      const value = await this.chain(i, length);
      samples.push(now() - t0);
      if (value !== i) throw new Error(`durable floor: chain ${i} returned ${value}`);
    }
    return samples;
  }

  /** `count` chains of `length`, `inFlight` of them at a time; the ms until the last one's result is on disk. */
  async concurrent(count: number, length: number, inFlight: number, boundMs: number): Promise<number> {
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < count; i = next++) {
        const value = await this.chain(i, length);
        if (value !== i) throw new Error(`durable floor: chain ${i} returned ${value}`);
      }
    };
    const t0 = now();
    await withTimeout(Promise.all(Array.from({ length: inFlight }, lane)), boundMs, `the durable floor to run ${count} chains`);
    return now() - t0;
  }

  async stop(): Promise<void> {
    await this.pool.stop();
    await this.db.close();
  }

  private async durably(key: string, value: number): Promise<void> {
    await this.db.put(key, value);
    await this.db.flushed;
  }
}
