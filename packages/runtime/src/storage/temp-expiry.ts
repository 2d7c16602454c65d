import type { Database, RootDatabase } from 'lmdb';
import type { BlobStore } from './blob-store.js';

/** 24 hours: how long a run's temporary storage outlives the run by default. */
export const DEFAULT_TEMP_TTL_MS = 24 * 60 * 60 * 1000;

/** How soon an expired storage that could not be emptied is tried again. */
const RETRY_MS = 60_000;

/** The longest a timer may wait before the next look (Node's timers hold at most 2^31 − 1 ms). */
const MAX_WAIT_MS = 2 ** 31 - 1;

/** Set once the ended runs of the data dir have been reconciled: from then on each run's expiry is written with its end. */
const RECONCILED = 'reconciled';

/**
 * Empties each run's temporary storage `ttlMs` after the run ended. When each one expires is in the
 * runtime's lmdb state (`temp-expiry`, keyed by time), so a restarted runtime empties what expired
 * while it was down, and what expires later, on time. A run's expiry is written in the turn, and
 * so the transaction, of its end; a data dir an earlier version wrote may hold ended runs without
 * one, which `reconcile` finds on the first start, telling them from the runs whose storage is
 * gone already (`temp-expired`, kept until then).
 */
export class TempExpiry {
  private readonly due: Database<true, [number, string, string]>;
  private readonly expired: Database<true, [string, string]>;
  private readonly meta: Database<true, string>;
  private timer: NodeJS.Timeout | undefined;
  /** When the timer looks next (ms since the epoch); undefined while nothing is due. */
  private nextAt: number | undefined;
  private sweeping: Promise<void> = Promise.resolve();
  private closed = false;
  /** Expiries being written: `close` waits for those under way, so none reaches the state after it closes. */
  private readonly writing = new Set<Promise<unknown>>();

  constructor(
    root: RootDatabase,
    private readonly store: BlobStore,
    readonly ttlMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.due = root.openDB<true, [number, string, string]>({ name: 'temp-expiry' });
    this.expired = root.openDB<true, [string, string]>({ name: 'temp-expired' });
    this.meta = root.openDB<true, string>({ name: 'temp-expiry.meta' });
    this.schedule();
  }

  /**
   * Records the expiry of every run in `ended` that has none and whose storage is not gone yet (an
   * earlier version could journal a run's end without it), once per data dir: later starts read
   * none of `ended`.
   */
  async reconcile(ended: Iterable<{ tenant: string; workflowId: string; endedAt: number }>): Promise<void> {
    if (this.meta.get(RECONCILED)) return;
    const pending = new Set<string>();
    for (const [, tenant, workflowId] of this.due.getKeys()) pending.add(`${tenant}\n${workflowId}`);
    for (const { tenant, workflowId, endedAt } of ended) {
      if (pending.has(`${tenant}\n${workflowId}`) || this.expired.doesExist([tenant, workflowId])) continue;
      await this.ended(tenant, workflowId, endedAt);
    }
    await this.meta.put(RECONCILED, true);
    // Which runs' storage went was kept for this only.
    await this.expired.clearAsync();
  }

  /** Run `workflowId` of `tenant` ended at `endedAt`: its temporary storage goes `ttlMs` later. */
  async ended(tenant: string, workflowId: string, endedAt: number): Promise<void> {
    // Written in this turn, the run's end's: one transaction, so an ended run always has its expiry.
    const written = this.due.put([endedAt + this.ttlMs, tenant, workflowId], true);
    this.writing.add(written);
    try {
      await written;
    } finally {
      this.writing.delete(written);
    }
    // Runs end in time order, so the timer set for an earlier one looks soon enough: no timer per run.
    if (this.nextAt === undefined || endedAt + this.ttlMs < this.nextAt) this.schedule();
  }

  /** Looks again when the next run expires, but not sooner than `minDelayMs`. */
  private schedule(minDelayMs = 0): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const [next] = [...this.due.getKeys({ limit: 1 })];
    this.nextAt = undefined;
    if (next === undefined) return;
    const wait = Math.min(MAX_WAIT_MS, Math.max(minDelayMs, next[0] - Date.now()));
    this.nextAt = Date.now() + wait;
    this.timer = setTimeout(() => void this.sweep(), wait);
    // A runtime with nothing else to do does not stay up for this.
    this.timer.unref();
  }

  private sweep(): Promise<void> {
    this.sweeping = this.sweeping.then(async () => {
      let failed = false;
      for (const key of [...this.due.getKeys({ end: [Date.now(), '\uffff', '\uffff'] })]) {
        if (this.closed) return;
        const [, tenant, workflowId] = key;
        try {
          await this.store.expire(tenant, workflowId);
          if (!this.meta.get(RECONCILED)) await this.expired.put([tenant, workflowId], true);
          await this.due.remove(key);
        } catch (error) {
          // Tried again at the next look: a bucket out of reach now may be back then.
          this.log(`could not empty the temporary storage of run ${workflowId} of ${tenant}: ${(error as Error).message}; trying again in a minute`);
          failed = true;
        }
      }
      this.schedule(failed ? RETRY_MS : 0);
    });
    return this.sweeping;
  }

  /** Stops looking; waits for a sweep under way. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await Promise.allSettled([this.sweeping, ...this.writing]);
  }
}
