/** Longest partial line held back waiting for its line end. */
const MAX_PENDING = 64 * 1024;
/** A partial line is passed on after this long without more output. */
const IDLE_FLUSH_MS = 200;

/**
 * Cuts one output stream of a runner into log chunks: each chunk ends at a line end where
 * possible, and the end marker the runner writes after an attempt closes that attempt's output.
 */
export class OutputSplitter {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param emit receives each chunk of text, in order.
   * @param onMarker called when the end marker is read, after everything written before it was emitted.
   */
  constructor(
    private readonly marker: string,
    private readonly emit: (text: string) => void,
    private readonly onMarker: () => void,
  ) {}

  /** Takes the next piece of the stream. */
  push(chunk: string): void {
    let data = this.pending + chunk;
    this.pending = '';
    for (let at = data.indexOf(this.marker); at >= 0; at = data.indexOf(this.marker)) {
      if (at > 0) this.emit(data.slice(0, at));
      this.onMarker();
      data = data.slice(at + this.marker.length);
    }
    const lineEnd = data.lastIndexOf('\n') + 1;
    if (lineEnd > 0) this.emit(data.slice(0, lineEnd));
    this.pending = data.slice(lineEnd);
    if (this.pending.length > MAX_PENDING) this.release();
    clearTimeout(this.timer);
    this.timer = this.pending.length > 0 ? setTimeout(() => this.release(), IDLE_FLUSH_MS).unref() : undefined;
  }

  /** The stream has ended: emits what is left. */
  end(): void {
    clearTimeout(this.timer);
    if (this.pending.length > 0) this.emit(this.pending);
    this.pending = '';
  }

  /** Emits the held partial line, except a tail that may be the start of a marker. */
  private release(): void {
    const data = this.pending;
    const start = data.lastIndexOf(this.marker[0]!);
    const keep = start >= 0 && this.marker.startsWith(data.slice(start)) ? start : data.length;
    if (keep > 0) this.emit(data.slice(0, keep));
    this.pending = data.slice(keep);
  }
}
