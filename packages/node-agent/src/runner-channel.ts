import type { Duplex } from 'node:stream';
import { Packr } from 'msgpackr';

/** The file descriptor of the channel in the runner process (the agent passes a socket there). */
export const RUNNER_CHANNEL_FD = 3;
/** Largest message either side accepts: a runner's huge result travels in one message. */
const MAX_MESSAGE_BYTES = 1024 ** 3;
const HEADER_BYTES = 4;

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });

/** Why a channel stopped taking messages from its other side. */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';
}

/**
 * Messages between a node-agent and one of its runners: msgpack, each behind a 4-byte length, on
 * a socket of their own. Cheaper than Node's IPC channel for the small messages of every attempt;
 * messages a side sends within one turn go out in one write.
 */
export class RunnerChannel<In, Out> {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** Bytes read but not yet decoded, and how many must be there before decoding is worth a try. */
  private received: Buffer[] = [];
  private receivedBytes = 0;
  private needBytes = HEADER_BYTES;
  private broken = false;

  /**
   * @param onMessage each decoded message, in order; it is not checked here.
   * @param onError the other side sent something that is not a message: nothing more is read.
   * @param onClose the socket closed (the other side is gone).
   */
  constructor(
    private readonly socket: Duplex,
    private readonly onMessage: (message: In) => void,
    private readonly onError: (error: ChannelError) => void,
    onClose: () => void = () => {},
  ) {
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    // A write to a side that is gone fails; that side's exit is what reports it.
    socket.on('error', () => {});
    socket.once('close', onClose);
  }

  /** Queues `message`; it is written at the end of this turn together with the others. */
  send(message: Out): void {
    const body = packr.pack(message);
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32BE(body.length, 0);
    this.pending.push(header, body);
    this.pendingBytes += HEADER_BYTES + body.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Writes what is queued now. Resolves once all of it is handed to the OS: in this turn when the
   * socket takes it at once, else when the other side has read enough for the rest to fit.
   */
  flushNow(): Promise<void> {
    this.flush();
    if (this.socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(Buffer.alloc(0), () => resolve()));
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.socket.destroyed) return;
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.socket.write(data);
  };

  private read(chunk: Buffer): void {
    if (this.broken) return;
    this.received.push(chunk);
    this.receivedBytes += chunk.length;
    // A large message arrives in many chunks: they are joined once, when all of it is there.
    if (this.receivedBytes < this.needBytes) return;
    const data = this.received.length === 1 ? chunk : Buffer.concat(this.received, this.receivedBytes);
    let at = 0;
    this.needBytes = HEADER_BYTES;
    while (data.length - at >= HEADER_BYTES) {
      const size = data.readUInt32BE(at);
      if (size > MAX_MESSAGE_BYTES) return this.fail(`a message of ${size} bytes is over the limit of ${MAX_MESSAGE_BYTES}`);
      if (data.length - at - HEADER_BYTES < size) {
        this.needBytes = HEADER_BYTES + size;
        break;
      }
      const start = at + HEADER_BYTES;
      at = start + size;
      let message: In;
      try {
        message = packr.unpack(data.subarray(start, at)) as In;
      } catch (error) {
        return this.fail(`a message cannot be decoded: ${(error as Error).message}`);
      }
      this.onMessage(message);
      if (this.broken) return;
    }
    const rest = data.subarray(at);
    this.received = rest.length === 0 ? [] : [rest];
    this.receivedBytes = rest.length;
  }

  private fail(reason: string): void {
    this.broken = true;
    this.received = [];
    this.onError(new ChannelError(reason));
  }
}
