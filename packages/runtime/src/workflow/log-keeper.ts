import { tell, type ActorRef } from '@lzy/actors';
import { MAX_KEPT_CHARS, type LogStore } from '../logs/log-store.js';
import type { WorkflowStatus } from '../protocol/client.js';
import type { LogEntry, LogPage } from '../protocol/records.js';
import type { Result } from '../result.js';
import type { OpNotice } from '../scheduler/scheduler.js';

type OpLog = Extract<OpNotice, { type: 'op-log' }>;

/** Longest wait a reader may ask for. */
export const MAX_LOG_WAIT_MS = 60_000;

interface Reader {
  readonly afterSeq: number;
  readonly limit: number;
  readonly replyTo: ActorRef<Result<LogPage>>;
  readonly timer: NodeJS.Timeout;
}

/**
 * The output of one workflow's ops as its workflow actor keeps it: numbers each chunk, stores it
 * (up to `MAX_KEPT_CHARS`; past that, one entry says the rest is not kept), and answers readers,
 * holding those that wait for more until it is stored, the wait is over or the run ends.
 */
export class LogKeeper {
  private seq: number;
  private chars: number;
  private readonly readers = new Set<Reader>();

  /** @param onStored called (from a promise) when entries up to `seq` are on disk */
  constructor(
    private readonly workflowId: string,
    private readonly store: LogStore,
    private readonly onStored: (seq: number) => void,
  ) {
    ({ seq: this.seq, chars: this.chars } = store.tail(workflowId));
  }

  /** Keeps one chunk of output. */
  keep(log: OpLog): void {
    if (this.chars >= MAX_KEPT_CHARS) return;
    this.chars += log.text.length;
    const text =
      this.chars < MAX_KEPT_CHARS ? log.text : `[lzy] this workflow's output passed ${MAX_KEPT_CHARS / 1024 / 1024} MiB; what follows was not kept (it still reached its client)\n`;
    const entry: LogEntry = { seq: ++this.seq, at: Date.now(), opId: log.opId, opName: log.opName, stream: log.stream, text };
    const { seq } = entry;
    void this.store.append(this.workflowId, entry).then(() => this.onStored(seq));
  }

  /** Entries up to `seq` can be read now: waiting readers get them. */
  stored(seq: number): void {
    for (const reader of this.readers) {
      if (reader.afterSeq < seq) this.answer(reader, 'active');
    }
  }

  /** The run ended: waiting readers get what there is. */
  ended(status: WorkflowStatus): void {
    for (const reader of this.readers) this.answer(reader, status);
  }

  /** Answers a read now, or holds it while the run is active and nothing is there yet. */
  read(request: { afterSeq: number; limit: number; waitMs: number; replyTo: ActorRef<Result<LogPage>> }, status: WorkflowStatus): void {
    const entries = this.store.read(this.workflowId, request.afterSeq, request.limit);
    if (entries.length > 0 || status !== 'active' || request.waitMs <= 0) {
      tell(request.replyTo, { ok: true, value: { entries, status } });
      return;
    }
    const reader: Reader = {
      afterSeq: request.afterSeq,
      limit: request.limit,
      replyTo: request.replyTo,
      timer: setTimeout(() => this.answer(reader, 'active'), Math.min(request.waitMs, MAX_LOG_WAIT_MS)),
    };
    this.readers.add(reader);
  }

  private answer(reader: Reader, status: WorkflowStatus): void {
    if (!this.readers.delete(reader)) return;
    clearTimeout(reader.timer);
    tell(reader.replyTo, { ok: true, value: { entries: this.store.read(this.workflowId, reader.afterSeq, reader.limit), status } });
  }
}
