import type { Logger } from 'pino';
import type { FailedAuthLimits } from './iam/failed-auth-limiter.js';
import type { TrustedIssuerConfig } from './iam/trusted-issuer.js';
import type { S3StorageConfig } from './storage/s3-store.js';
/**
 * Where a pool's nodes come from: `local` nodes are node-agent processes the runtime starts;
 * `static` nodes are agents an operator starts on any host with `lzy agent`, which join the pool;
 * `kubernetes` nodes are the cluster's nodes labelled `lzy.dev/pool=NAME`, each leased to one
 * tenant, whose agent the node-agent DaemonSet starts.
 */
export type PoolKind = 'local' | 'static' | 'kubernetes';

/** A pool of nodes of one shape. Each node runs `slots` attempts at once. */
export interface PoolConfig {
  name: string;
  /** Default `local`. */
  kind?: PoolKind;
  /** Cores of one node; an op asking for more cannot run in this pool. */
  cpu: number;
  /** Memory of one node in MiB; likewise. */
  memoryMb: number;
  /** Runners of a local node; a static node has the slots its agent registers with. */
  slots: number;
  /**
   * Nodes of this pool at once, all tenants together; for a static pool, nodes one tenant holds at
   * once (the pool itself has as many nodes as agents have joined).
   */
  maxNodes: number;
  /** A node with nothing to run for this long is released. */
  idleTimeoutMs: number;
}

/** Options of `startRuntime`. */
export interface RuntimeOptions {
  /** Where the runtime keeps its lmdb state and blobs. Default `./.lzy`, or `LZY_HOME`. */
  dataDir?: string;
  /** Node pools; default one pool `default` of 2 local nodes with 4 slots each. */
  pools?: PoolConfig[];
  /** Where the gateway for node-agents (and remote clients) listens. Default 127.0.0.1, a free port. */
  host?: string;
  port?: number;
  /** A node that sent no heartbeat for this long is declared lost. */
  heartbeatTimeoutMs?: number;
  /** How often agents send heartbeats. */
  heartbeatIntervalMs?: number;
  /** A node that has not registered this long after it was requested counts as failed. */
  allocationTimeoutMs?: number;
  /** How long the worker token of a leased node's agent lives; its lease renews it at half that. Default 10 minutes. */
  workerTokenTtlMs?: number;
  /**
   * The kubeconfig of the cluster of the `kubernetes` pools; default `KUBECONFIG`, `~/.kube/config`,
   * or the pod's ServiceAccount when the runtime runs in the cluster.
   */
  kubeconfig?: string;
  /** Who the runtime lets in besides its own opaque tokens; default: nobody else. */
  identity?: IdentityOptions;
  /** Where runs' values are stored; default files under the data dir (`DATA_DIR/blobs`). */
  storage?: StorageOptions;
  /** Serve Prometheus metrics at `/metrics` of the gateway's port (`lzy server` does); default off. */
  metrics?: MetricsOptions;
  /** Serve the dashboard at `/ui/` of the gateway's port (`lzy server` does); default off. */
  dashboard?: boolean;
  /**
   * Where the runtime logs: a line per state change (runs, leases, ops, attempts, refused
   * credentials) and its warnings. Without one it logs no state change, and warns on stderr.
   */
  logger?: Logger;
}

/** The runtime's `/metrics`: read with an admin's bearer token, or by anyone when `public`. */
export interface MetricsOptions {
  public?: boolean;
}

/** Where a runtime stores runs' values: in an S3-compatible bucket, or (without `s3`) in files under its data dir. */
export interface StorageOptions {
  s3?: S3StorageConfig;
  /** The size limit of each run's temporary storage (a run that names no bucket of its own); default 10 GiB. */
  tempQuotaBytes?: number;
  /** How long a run's temporary storage outlives the run, in the runtime's bucket; default 24 h. (The file store keeps values while the data dir lives.) */
  tempTtlMs?: number;
}

/** The JWT access tokens a runtime accepts, and how hard it makes guessing. */
export interface IdentityOptions {
  /**
   * Serve an OIDC issuer under `/oidc` of the gateway's port (`lzy server` does): `true` for the
   * issuer identifier `http://HOST:PORT/oidc`, or the identifier to use when clients reach the
   * server by another name (it must still end in `/oidc`).
   */
  issuer?: boolean | string;
  /** Lifetime of the access tokens the issuer gives its clients, in seconds. Default 900 (15 min). */
  tokenTtlSeconds?: number;
  /** External issuers whose tokens are accepted (`lzy server --trust-issuer`). */
  trust?: TrustedIssuerConfig[];
  /** Failed authentications one remote address may make. */
  failedAuthLimits?: FailedAuthLimits;
}

export const defaultPool: PoolConfig = {
  name: 'default',
  cpu: 2,
  memoryMb: 4096,
  slots: 4,
  maxNodes: 2,
  idleTimeoutMs: 30_000,
};

export interface ResolvedOptions {
  dataDir: string;
  pools: Map<string, PoolConfig>;
  host: string;
  port: number;
  heartbeatTimeoutMs: number;
  heartbeatIntervalMs: number;
  allocationTimeoutMs: number;
  workerTokenTtlMs: number;
  kubeconfig: string | undefined;
  identity: IdentityOptions;
  storage: StorageOptions;
  metrics: MetricsOptions | undefined;
  dashboard: boolean;
  logger: Logger | undefined;
}

/** Fills in defaults and checks the options; throws a clear error on a bad value. */
export function resolveOptions(options: RuntimeOptions): ResolvedOptions {
  const pools = new Map<string, PoolConfig>();
  for (const pool of options.pools ?? [defaultPool]) {
    for (const field of ['cpu', 'memoryMb', 'slots', 'maxNodes', 'idleTimeoutMs'] as const) {
      if (!(Number.isFinite(pool[field]) && pool[field] > 0)) {
        throw new RangeError(`pool ${pool.name}: ${field} must be a positive number, got ${pool[field]}`);
      }
    }
    if (pools.has(pool.name)) throw new Error(`pool ${pool.name} is configured twice`);
    pools.set(pool.name, pool);
  }
  if (pools.size === 0) throw new Error('at least one node pool is needed');
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1_000;
  const workerTokenTtlMs = options.workerTokenTtlMs ?? 600_000;
  if (!(Number.isFinite(workerTokenTtlMs) && workerTokenTtlMs >= 1_000)) throw new RangeError(`workerTokenTtlMs must be 1000 or more, got ${workerTokenTtlMs}`);
  return {
    dataDir: options.dataDir ?? process.env.LZY_HOME ?? './.lzy',
    pools,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    heartbeatIntervalMs,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? Math.max(10_000, heartbeatIntervalMs * 10),
    allocationTimeoutMs: options.allocationTimeoutMs ?? 30_000,
    workerTokenTtlMs,
    kubeconfig: options.kubeconfig,
    identity: options.identity ?? {},
    storage: options.storage ?? {},
    metrics: options.metrics,
    dashboard: options.dashboard ?? false,
    logger: options.logger,
  };
}
