import type { Progress } from './progress-tracker.js';

/** The stream progress goes to: stderr, a TTY or not. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const BAR_WIDTH = 24;
/** Plain progress lines (not a TTY) come at most this often, besides the first and the last. */
const LINE_INTERVAL_MS = 1_000;

/**
 * Shows the progress of runs: on a TTY one line redrawn in place, with a bar; otherwise plain
 * lines, at most one a second, and always those that say an op failed or the run ended. Op output printed
 * meanwhile goes above the bar.
 */
export class ProgressView {
  private bar = '';
  private lastLineAt = -Infinity;
  private lastFailed = 0;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {}

  show(name: string, progress: Progress): void {
    if (this.stream.isTTY) {
      this.bar = progress.ended === undefined ? `${name} ${drawBar(progress)} ${describe(progress)}` : '';
      this.stream.write(`\r\x1b[K${this.bar || `${name}: ${describe(progress)}\n`}`);
      return;
    }
    const now = this.now();
    const news = progress.ended !== undefined || progress.failed !== this.lastFailed;
    if (!news && now - this.lastLineAt < LINE_INTERVAL_MS) return;
    this.lastLineAt = now;
    this.lastFailed = progress.failed;
    this.stream.write(`lzy: ${name}: ${describe(progress)}\n`);
  }

  /** Writes `text` (whole lines) above the bar. */
  print(text: string): void {
    if (!this.stream.isTTY || !this.bar) {
      this.stream.write(text);
      return;
    }
    this.stream.write(`\r\x1b[K${text}${this.bar}`);
  }

  /** Takes the bar off the screen. */
  clear(): void {
    if (this.stream.isTTY && this.bar) this.stream.write('\r\x1b[K');
    this.bar = '';
  }
}

function drawBar({ done, total }: Progress): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
}

function describe(progress: Progress): string {
  const parts = [`${progress.done}/${progress.total} ops done`, `${progress.running} running`, `${progress.waiting} waiting`];
  if (progress.failed > 0) parts.push(`${progress.failed} failed`);
  if (progress.ended !== undefined) parts.push(progress.ended);
  return parts.join(', ');
}
