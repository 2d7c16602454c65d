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
  /** Asks the node to go away once its agent was told to shut down: the agent finishes what it runs. */
  stop(): void;
  /** Removes the node at once. */
  kill(): void;
  /** Where bringing the node up stands (e.g. no free node in its pool), for an allocation that timed out. */
  describe?(): string;
}

/** Where nodes come from: local processes, or nodes of a Kubernetes cluster. */
export interface NodeBackend {
  start(spec: NodeStartSpec): NodeHandle;
}
