import type { LmdbJournal } from '@lzy/actors';
import { graphJournalKey, runOfJournalKey, workflowJournalKey } from '../journal-keys.js';

/** Runs archived together: one append and sync of the archive, one lmdb transaction. */
const BATCH = 512;
/** How long a run waits for others to fill its batch. */
const BATCH_DELAY_MS = 1_000;


/**
 * Moves the journals of runs that ended and left memory out of lmdb into the journal's archive, a
 * batch at a time, off the path of any workflow: lmdb then holds the journals of live runs only,
 * so the runtime's mapped state stays the same size however many runs ended. An archived run is
 * read back as before (its status, ops, results and timings).
 */
export class RunArchive {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private moving: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly journal: LmdbJournal,
    private readonly warn: (line: string) => void,
  ) {}

  /** A run that ended and left memory: its journals go with the next batch. */
  add(workflowId: string): void {
    if (this.closed) return;
    this.pending.add(workflowId);
    if (this.pending.size >= BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_DELAY_MS).unref();
  }

  /**
   * Queues the runs whose journals are still in lmdb though they ended (`isLive` says which runs
   * are not): those that ended before a restart and had not been archived yet.
   */
  sweep(isLive: (workflowId: string) => boolean): void {
    // A run's two keys each queue it; `pending` holds it once.
    for (const key of this.journal.liveKeys()) {
      const workflowId = runOfJournalKey(key);
      if (workflowId !== undefined && !isLive(workflowId)) this.add(workflowId);
    }
  }

  /** Stops archiving; runs not archived yet stay in lmdb, for the next start's sweep. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.pending.clear();
    await this.moving;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.moving || this.pending.size === 0) return;
    const batch = [...this.pending].slice(0, BATCH);
    for (const workflowId of batch) this.pending.delete(workflowId);
    const keys = batch.flatMap((workflowId) => [workflowJournalKey(workflowId), graphJournalKey(workflowId)]);
    this.moving = this.journal
      .archive(keys)
      .then(
        () => undefined,
        (error: Error) => {
          if (!this.closed) this.warn(`the journals of ${batch.length} ended runs stay in the state for now, not archived: ${error.message}`);
        },
      )
      .finally(() => {
        this.moving = undefined;
        if (this.pending.size >= BATCH) this.flush();
        else if (this.pending.size > 0) this.timer ??= setTimeout(() => this.flush(), BATCH_DELAY_MS).unref();
      });
  }
}
