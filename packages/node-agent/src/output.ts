/** Longest partial line held back waiting for its line end. */
const MAX_PENDING = 64 * 1024;
/** A partial line is passed on after this long without more output. */
const IDLE_FLUSH_MS = 200;

/**
 * Cuts one output stream into log chunks that end at a line end where possible: a partial line
 * is held until its line end comes, the stream is flushed, it grows past 64 KiB, or 200 ms pass.
 */
export class LineSplitter {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  /** @param emit receives each chunk of text, in order. */
  constructor(private readonly emit: (text: string) => void) {}

  /** Takes the next piece of the stream. */
  push(chunk: string): void {
    const data = this.pending + chunk;
    const lineEnd = data.lastIndexOf('\n') + 1;
    if (lineEnd > 0) this.emit(data.slice(0, lineEnd));
    this.pending = data.slice(lineEnd);
    if (this.pending.length > MAX_PENDING) this.flush();
    clearTimeout(this.timer);
    this.timer = this.pending.length > 0 ? setTimeout(() => this.flush(), IDLE_FLUSH_MS).unref() : undefined;
  }

  /** Emits the held partial line, if any. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length > 0) this.emit(this.pending);
    this.pending = '';
  }
}
