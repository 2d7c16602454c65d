import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { ResolvedOptions } from '../config.js';
import type { AllocatorRequest, SchedulerMsg } from '../scheduler/scheduler.js';
import type { NodeBackend } from './backend.js';
import type { NodeDirectory } from './node-directory.js';
import { spawnPool, type PoolMsg } from './pool.js';

/** Leases nodes per tenant from the configured pools, through one backend. */
export function spawnAllocator(
  parent: Parent,
  deps: {
    options: ResolvedOptions;
    backend: NodeBackend;
    directory: NodeDirectory;
    scheduler: ActorRef<SchedulerMsg>;
    serverUrl: () => string;
  },
): ActorRef<AllocatorRequest> {
  const pools = new Map<string, ActorRef<PoolMsg>>();
  return spawnActor<undefined, AllocatorRequest>(parent, {
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
              backend: deps.backend,
              directory: deps.directory,
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
      }
    },
  });
}
