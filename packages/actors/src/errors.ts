/** Base of every error the actor substrate raises: a stable `code` to branch on, never the message text. */
export class ActorError extends Error {
  readonly code: string;
  /** True when the same call may succeed if tried again (a lost connection, a full queue). */
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** An `ask` got no reply within its timeout. */
export class AskTimeoutError extends ActorError {
  constructor(target: string, timeoutMs: number) {
    super('ASK_TIMEOUT', `no reply from ${target} within ${timeoutMs} ms`, { retryable: true });
  }
}

/** The addressed actor is stopped, was never spawned, or is not exposed to remote peers. */
export class ActorNotFoundError extends ActorError {
  constructor(target: string) {
    super('ACTOR_NOT_FOUND', `no actor at ${target}: it is stopped, was never spawned, or is not exposed`);
  }
}

/** A peer broke the wire protocol: an undecodable frame, an unknown type, a message that fails its schema. */
export class ProtocolError extends ActorError {
  constructor(message: string, code = 'PROTOCOL_ERROR') {
    super(code, message);
  }
}

/** A message could not be sent: the peer is unreachable and nothing may wait for it, or the queue is full. */
export class PeerUnavailableError extends ActorError {
  constructor(message: string, code = 'PEER_UNAVAILABLE') {
    super(code, message, { retryable: true });
  }
}

/** The connection closed while an ask was in flight; whether the peer handled it is unknown. */
export class ConnectionLostError extends ActorError {
  constructor(target: string) {
    super('CONNECTION_LOST', `connection lost before ${target} replied; the message may or may not have been handled`, {
      retryable: true,
    });
  }
}

/** A message is larger than the peer's maximum frame size and was not sent. */
export class FrameTooLargeError extends ActorError {
  constructor(bytes: number, limit: number) {
    super('FRAME_TOO_LARGE', `message of ${bytes} bytes exceeds the peer's maximum frame size of ${limit} bytes`);
  }
}

/** A failure raised by the remote actor while handling an ask, carried back across the wire. */
export class RemoteError extends ActorError {
  readonly remoteName: string;
  constructor(failure: Failure) {
    super(failure.code, failure.message);
    this.remoteName = failure.name;
    if (failure.stack !== undefined) this.stack = failure.stack;
  }
}

/** The plain form of an error that crosses a process boundary. */
export interface Failure {
  code: string;
  name: string;
  message: string;
  stack?: string;
}

/** Converts any thrown value to a plain `Failure` that survives msgpack. */
export function toFailure(error: unknown): Failure {
  if (error instanceof Error) {
    const code = error instanceof ActorError ? error.code : 'ACTOR_FAILED';
    return error.stack === undefined
      ? { code, name: error.name, message: error.message }
      : { code, name: error.name, message: error.message, stack: error.stack };
  }
  return { code: 'ACTOR_FAILED', name: 'Error', message: String(error) };
}
