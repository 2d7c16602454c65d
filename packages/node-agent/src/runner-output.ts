import { LineSplitter } from './output.js';
import type { OutputChunk } from './runner-messages.js';

type Stream = OutputChunk['stream'];
type WriteCallback = (error?: Error | null) => void;

/** Output gathered past this many characters is sent at once rather than at the end of the turn. */
const SEND_AT_CHARS = 256 * 1024;

/**
 * Captures what user code in a runner writes through `process.stdout` and `process.stderr` (and
 * so `console`), tagged with the attempt that was running, cut at line ends. The agent gets it
 * with the attempt's `finished`, or in `output` messages while the attempt runs, so output needs
 * no second channel to be told apart between attempts. Raw writes to file descriptors 1 and 2
 * bypass this and reach the agent through the runner's pipes.
 */
export class OutputCapture {
  private attemptId: string | null = null;
  private chunks: OutputChunk[] = [];
  private chars = 0;
  private sendScheduled = false;
  private readonly splitters: Record<Stream, LineSplitter>;

  /** @param send sends an `output` message with the chunks gathered while no attempt ends */
  constructor(private readonly send: (chunks: OutputChunk[]) => void) {
    this.splitters = { stdout: this.splitter('stdout'), stderr: this.splitter('stderr') };
  }

  /** Replaces `write` of both streams; user code may still replace it again, which silences its own output only. */
  install(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const target = process[stream];
      target.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback) => {
        const done = typeof encoding === 'function' ? encoding : callback;
        this.splitters[stream].push(textOf(chunk, typeof encoding === 'string' ? encoding : undefined));
        if (done) process.nextTick(done);
        return true;
      }) as typeof target.write;
    }
  }

  /** Output from now on belongs to `attemptId` (null: to no attempt). */
  begin(attemptId: string | null): void {
    this.attemptId = attemptId;
  }

  /** Ends the current attempt's output: returns everything not sent yet, partial lines included. */
  end(): OutputChunk[] {
    this.splitters.stdout.flush();
    this.splitters.stderr.flush();
    this.attemptId = null;
    return this.take();
  }

  private splitter(stream: Stream): LineSplitter {
    return new LineSplitter((text) => {
      this.chunks.push({ attemptId: this.attemptId, stream, text });
      this.chars += text.length;
      if (this.chars >= SEND_AT_CHARS) this.flush();
      else if (!this.sendScheduled) {
        this.sendScheduled = true;
        setImmediate(this.flushLater);
      }
    });
  }

  private readonly flushLater = (): void => {
    this.sendScheduled = false;
    this.flush();
  };

  private flush(): void {
    if (this.chunks.length > 0) this.send(this.take());
  }

  private take(): OutputChunk[] {
    const chunks = this.chunks;
    this.chunks = [];
    this.chars = 0;
    return chunks;
  }
}

function textOf(chunk: string | Uint8Array, encoding: BufferEncoding | undefined): string {
  if (typeof chunk === 'string') return encoding === undefined || encoding === 'utf8' || encoding === 'utf-8' ? chunk : Buffer.from(chunk, encoding).toString('utf8');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
}
