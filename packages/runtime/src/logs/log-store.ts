import type { Database, RootDatabase } from 'lmdb';
import type { LogEntry } from '../protocol/records.js';

type Key = [workflowId: string, seq: number];

/** Characters of text one read returns at most (UTF-8: at most 3 bytes each), well under a frame. */
const MAX_READ_CHARS = 512 * 1024;

/** Characters of output kept per workflow; what comes after is not stored, and one entry says so. */
export const MAX_KEPT_CHARS = 64 * 1024 * 1024;

/**
 * The output of every workflow's ops, in order, in the runtime's lmdb environment: what `lzy logs`
 * replays after the fact. Writes are not awaited one by one: lmdb commits them in batches.
 */
export class LogStore {
  private readonly db: Database<LogEntry, Key>;
  private closed = false;

  constructor(root: RootDatabase) {
    this.db = root.openDB<LogEntry, Key>({ name: 'logs' });
  }

  /** The last entry's seq and the characters kept so far of a workflow (0, 0 when it has none). */
  tail(workflowId: string): { seq: number; chars: number } {
    let seq = 0;
    let chars = 0;
    for (const { key, value } of this.db.getRange({ start: [workflowId], end: [workflowId, Number.MAX_SAFE_INTEGER] })) {
      seq = key[1];
      chars += value.text.length;
    }
    return { seq, chars };
  }

  /** Appends an entry (its `seq` must follow the last one); resolves false when it was not kept (the runtime is stopping). */
  async append(workflowId: string, entry: LogEntry): Promise<boolean> {
    if (this.closed) return false;
    return this.db.put([workflowId, entry.seq], entry).catch(() => false);
  }

  /** Takes no more entries: the runtime is stopping. */
  close(): void {
    this.closed = true;
  }

  /** Entries of a workflow after `afterSeq`, in order: at most `limit`, and no more text than fits a message (at least one entry). */
  read(workflowId: string, afterSeq: number, limit: number): LogEntry[] {
    const entries: LogEntry[] = [];
    let chars = 0;
    for (const { value } of this.db.getRange({ start: [workflowId, afterSeq + 1], end: [workflowId, Number.MAX_SAFE_INTEGER], limit })) {
      chars += value.text.length;
      if (chars > MAX_READ_CHARS && entries.length > 0) break;
      entries.push(value);
    }
    return entries;
  }
}
