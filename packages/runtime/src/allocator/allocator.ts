import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { AgentMsg } from '@lzy/node-agent/protocol';
import type { PoolConfig, ResolvedOptions } from '../config.js';
import type { AllocatorRequest, SchedulerMsg } from '../scheduler/scheduler.js';
import type { NodeBackend } from './backend.js';
import type { NodeDirectory } from './node-directory.js';
import type { WorkerTokens } from '../iam/worker-tokens.js';
import type { JoinedNode } from './lease.js';
import { spawnPool, type PoolMsg } from './pool.js';

/** The scheduler's requests, and what the agents of static pools say before they are leased. */
export type AllocatorMsg =
  | AllocatorRequest
  | { type: 'offer'; node: JoinedNode }
  | { type: 'free-heartbeat'; pool: string; nodeId: string; agent: ActorRef<AgentMsg> };

/** Leases nodes per tenant from the configured pools: local and Kubernetes ones through their backend, static ones as they join. */
export function spawnAllocator(
  parent: Parent,
  deps: {
    options: ResolvedOptions;
    /** The backend of each pool not static. */
    backendFor: (pool: PoolConfig) => NodeBackend;
    directory: NodeDirectory;
    workerTokens: WorkerTokens;
    scheduler: ActorRef<SchedulerMsg>;
    serverUrl: () => string;
  },
): ActorRef<AllocatorMsg> {
  const pools = new Map<string, ActorRef<PoolMsg>>();
  return spawnActor<undefined, AllocatorMsg>(parent, {
    name: 'allocator',
    initialState: () => {
      pools.clear();
      return undefined;
    },
    supervision: 'resume',
    receive: (state, msg, ctx) => {
      if (pools.size === 0) {
        for (const config of deps.options.pools.values()) {
          pools.set(
            config.name,
            spawnPool(ctx.self as ActorRef<never>, {
              config,
              backend: deps.backendFor(config),
              directory: deps.directory,
              workerTokens: deps.workerTokens,
              scheduler: deps.scheduler,
              serverUrl: deps.serverUrl,
              heartbeatIntervalMs: deps.options.heartbeatIntervalMs,
              heartbeatTimeoutMs: deps.options.heartbeatTimeoutMs,
              allocationTimeoutMs: deps.options.allocationTimeoutMs,
            }),
          );
        }
      }
      switch (msg.type) {
        case 'lease': {
          const pool = pools.get(msg.pool);
          if (pool) tell(pool, { type: 'lease', tenant: msg.tenant });
          else {
            tell(deps.scheduler, {
              type: 'allocation-failed',
              tenant: msg.tenant,
              pool: msg.pool,
              message: `no node pool named ${msg.pool}; pools: ${[...pools.keys()].join(', ')}`,
            });
          }
          return state;
        }
        case 'release': {
          const lease = deps.directory.lease(msg.nodeId);
          if (lease) tell(lease, { type: 'release', reason: msg.reason });
          return state;
        }
        case 'offer': {
          // The gateway admits joined agents to static pools only, so the pool is there.
          const pool = pools.get(msg.node.principal.pool);
          if (pool) tell(pool, msg);
          return state;
        }
        case 'free-heartbeat': {
          const pool = pools.get(msg.pool);
          if (pool) tell(pool, { type: 'free-heartbeat', nodeId: msg.nodeId, agent: msg.agent });
          return state;
        }
      }
    },
  });
}
