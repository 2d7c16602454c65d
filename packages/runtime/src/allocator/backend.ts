import type { PoolConfig } from '../config.js';

/** What a backend needs to bring up one node that registers with the runtime. */
export interface NodeStartSpec {
  readonly nodeId: string;
  readonly tenant: string;
  readonly pool: PoolConfig;
  /** One-time credential the node-agent presents to the gateway. */
  readonly token: string;
  /** The gateway's ws URL. */
  readonly serverUrl: string;
  readonly heartbeatIntervalMs: number;
}

/** A node being brought up or running. */
export interface NodeHandle {
  /** Called once when the node is gone (its process exited, its pod was deleted). */
  onExit(listener: (reason: string) => void): void;
  /** Asks the node to go away (it finishes nothing more). */
  stop(): void;
  /** Removes the node at once. */
  kill(): void;
}

/** Where nodes come from: local processes, or (later) Kubernetes nodes. */
export interface NodeBackend {
  start(spec: NodeStartSpec): NodeHandle;
}
