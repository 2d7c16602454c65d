/** Bounds of one `Remoting`; every queue and frame it keeps is limited by these. */
export interface RemotingLimits {
  /** Largest frame this side accepts; announced in the handshake so the peer never sends a larger one. */
  maxFrameBytes: number;
  /** Messages a peer holds while disconnected or while its socket is saturated; one more fails fast. */
  maxQueuedMessages: number;
  /** Bytes a peer holds likewise. */
  maxQueuedBytes: number;
  /** Bytes handed to a socket and not yet written before new messages wait in the queue instead. */
  highWaterBytes: number;
  /** A connection that has not completed its handshake by then is closed. */
  handshakeTimeoutMs: number;
}

export const defaultLimits: RemotingLimits = {
  maxFrameBytes: 4 * 1024 * 1024,
  maxQueuedMessages: 10_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  highWaterBytes: 8 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
};

/** How an outgoing connection retries after it drops: exponential backoff with jitter. */
export interface ReconnectPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

export const defaultReconnect: ReconnectPolicy = { initialDelayMs: 50, maxDelayMs: 5_000 };

/** Delay before reconnect attempt `attempt` (0-based): doubles each time, capped, with ±50% jitter. */
export function backoffDelay(policy: ReconnectPolicy, attempt: number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.5 + Math.random() / 2));
}
