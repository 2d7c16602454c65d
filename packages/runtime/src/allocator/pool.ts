import Denque from 'denque';
import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { PoolConfig } from '../config.js';
import { newId } from '../ids.js';
import type { SchedulerMsg } from '../scheduler/scheduler.js';
import type { NodeBackend } from './backend.js';
import { spawnLease, type LeaseMsg } from './lease.js';
import type { NodeDirectory } from './node-directory.js';

export type PoolMsg =
  | { type: 'lease'; tenant: string }
  | { type: 'lease-ended'; nodeId: string }
  | { type: 'expire'; requestId: number };

interface PoolState {
  readonly leases: Map<string, ActorRef<LeaseMsg>>;
  /** Lease requests waiting for room in the pool. */
  readonly waiting: Denque<{ tenant: string; requestId: number }>;
}

export interface PoolDeps {
  readonly config: PoolConfig;
  readonly backend: NodeBackend;
  readonly directory: NodeDirectory;
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly serverUrl: () => string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly allocationTimeoutMs: number;
}

/** One node pool: at most `maxNodes` leases at once; requests beyond wait, up to the allocation timeout. */
export function spawnPool(parent: Parent, deps: PoolDeps): ActorRef<PoolMsg> {
  let nextRequest = 0;
  const self: ActorRef<PoolMsg> = spawnActor<PoolState, PoolMsg>(parent, {
    name: `pool-${deps.config.name}`,
    initialState: () => ({ leases: new Map(), waiting: new Denque() }),
    supervision: 'resume',
    receive: (state, msg, ctx) => {
      switch (msg.type) {
        case 'lease':
          if (state.leases.size < deps.config.maxNodes) startLease(state, msg.tenant, ctx.self);
          else {
            const requestId = ++nextRequest;
            state.waiting.push({ tenant: msg.tenant, requestId });
            setTimeout(() => tell(self, { type: 'expire', requestId }), deps.allocationTimeoutMs).unref();
          }
          return state;
        case 'lease-ended': {
          state.leases.delete(msg.nodeId);
          const next = state.waiting.shift();
          if (next) startLease(state, next.tenant, ctx.self);
          return state;
        }
        case 'expire': {
          const items = state.waiting.toArray();
          const expired = items.find((item) => item.requestId === msg.requestId);
          if (!expired) return state;
          state.waiting.clear();
          items.filter((item) => item !== expired).forEach((item) => state.waiting.push(item));
          tell(deps.scheduler, {
            type: 'allocation-failed',
            tenant: expired.tenant,
            pool: deps.config.name,
            message: `pool ${deps.config.name} had no room for a node (all ${deps.config.maxNodes} in use) within ${deps.allocationTimeoutMs} ms`,
          });
          return state;
        }
      }
    },
  });

  function startLease(state: PoolState, tenant: string, poolRef: ActorRef<PoolMsg>): void {
    const nodeId = newId('node');
    const lease = spawnLease(poolRef as ActorRef<never>, {
      nodeId,
      tenant,
      pool: deps.config,
      backend: deps.backend,
      directory: deps.directory,
      scheduler: deps.scheduler,
      serverUrl: deps.serverUrl(),
      heartbeatIntervalMs: deps.heartbeatIntervalMs,
      heartbeatTimeoutMs: deps.heartbeatTimeoutMs,
      allocationTimeoutMs: deps.allocationTimeoutMs,
      ended: (id) => tell(self, { type: 'lease-ended', nodeId: id }),
    });
    state.leases.set(nodeId, lease);
  }

  return self;
}
