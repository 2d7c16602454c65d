import { MAX_BATCH, type AttemptFinished, type LogChunk, type NodesWireMsg } from './protocol/agent.js';

type ReportMsg = Extract<NodesWireMsg, { type: 'report' }>;

/** Longest text of one log chunk on the wire; longer output is cut into several chunks. */
const MAX_CHUNK_CHARS = 64 * 1024;
/** A report is sent at once when its texts reach this many characters (UTF-8: at most 3 bytes each), well under a frame. */
const MAX_REPORT_CHARS = 256 * 1024;
/** What a `finished` entry costs besides its texts. */
const ENTRY_CHARS = 256;

/**
 * Gathers what an agent tells the runtime about its attempts (output and results) and sends it
 * as one `report` per event-loop turn: one message instead of one per line and per attempt.
 * The runtime reads a report's logs before its results, and an attempt has no output after its
 * result, so its output always comes before its result.
 */
export class Reporter {
  private logs: LogChunk[] = [];
  private finished: AttemptFinished[] = [];
  private chars = 0;
  private scheduled = false;

  /** @param send sends one report (never throws) */
  constructor(private readonly send: (report: ReportMsg) => void) {}

  /** Reports output of an attempt. */
  log(attemptId: string, stream: LogChunk['stream'], text: string): void {
    for (let at = 0; at < text.length; at += MAX_CHUNK_CHARS) {
      const piece = text.length <= MAX_CHUNK_CHARS ? text : text.slice(at, at + MAX_CHUNK_CHARS);
      this.logs.push({ attemptId, stream, text: piece });
      this.added(piece.length + ENTRY_CHARS);
    }
  }

  /** Reports that an attempt ended. */
  finish(entry: AttemptFinished): void {
    this.finished.push(entry);
    const failure = entry.outcome.ok ? undefined : entry.outcome.failure;
    this.added(ENTRY_CHARS + (failure ? failure.message.length + (failure.stack?.length ?? 0) : 0));
  }

  /** Sends what is gathered now. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.logs.length === 0 && this.finished.length === 0) return;
    const report: ReportMsg = { type: 'report', logs: this.logs, finished: this.finished };
    this.logs = [];
    this.finished = [];
    this.chars = 0;
    this.send(report);
  };

  private added(chars: number): void {
    this.chars += chars;
    if (this.chars >= MAX_REPORT_CHARS || this.logs.length >= MAX_BATCH || this.finished.length >= MAX_BATCH) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }
}
