import Denque from 'denque';
import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { AgentMsg } from '@lzy/node-agent/protocol';
import type { PoolConfig } from '../config.js';
import { newId } from '../ids.js';
import type { SchedulerMsg } from '../scheduler/scheduler.js';
import type { NodeBackend } from './backend.js';
import { spawnLease, type JoinedNode, type LeaseMsg } from './lease.js';
import type { NodeDirectory } from './node-directory.js';
import type { WorkerTokens } from '../iam/worker-tokens.js';

export type PoolMsg =
  | { type: 'lease'; tenant: string }
  | { type: 'lease-ended'; nodeId: string }
  | { type: 'expire'; requestId: number }
  /** A static pool's agent joined and registered: a free node. */
  | { type: 'offer'; node: JoinedNode }
  /** A heartbeat of a joined node that no lease holds. */
  | { type: 'free-heartbeat'; nodeId: string; agent: ActorRef<AgentMsg> }
  | { type: 'check-free' };

interface PoolState {
  readonly leases: Map<string, ActorRef<LeaseMsg>>;
  /** Lease requests waiting for room in the pool (a local or Kubernetes pool) or for a free node (a static pool). */
  readonly waiting: Denque<{ tenant: string; requestId: number }>;
  /** A static pool's free nodes, in the order they joined, with their last heartbeat. */
  readonly free: Map<string, { node: JoinedNode; lastHeartbeat: number }>;
}

export interface PoolDeps {
  readonly config: PoolConfig;
  readonly backend: NodeBackend;
  readonly directory: NodeDirectory;
  readonly workerTokens: WorkerTokens;
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly serverUrl: () => string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly allocationTimeoutMs: number;
}

/**
 * One node pool. A local pool starts at most `maxNodes` nodes at once; a static pool leases the
 * nodes that joined it, each to one tenant, and drops a free node whose heartbeats stop. Requests
 * beyond what the pool has wait, up to the allocation timeout.
 */
export function spawnPool(parent: Parent, deps: PoolDeps): ActorRef<PoolMsg> {
  let nextRequest = 0;
  const isStatic = deps.config.kind === 'static';
  const self: ActorRef<PoolMsg> = spawnActor<PoolState, PoolMsg>(parent, {
    name: `pool-${deps.config.name}`,
    initialState: () => ({ leases: new Map(), waiting: new Denque(), free: new Map() }),
    supervision: 'resume',
    receive: (state, msg, ctx) => {
      switch (msg.type) {
        case 'lease': {
          const free = isStatic ? takeFree(state) : undefined;
          if (free) {
            startLease(state, msg.tenant, ctx.self, free);
          } else if (!isStatic && state.leases.size < deps.config.maxNodes) startLease(state, msg.tenant, ctx.self);
          else {
            const requestId = ++nextRequest;
            state.waiting.push({ tenant: msg.tenant, requestId });
            setTimeout(() => tell(self, { type: 'expire', requestId }), deps.allocationTimeoutMs).unref();
          }
          return state;
        }
        case 'lease-ended': {
          state.leases.delete(msg.nodeId);
          // A static node is not reused: its agent comes back as a new node, with an offer.
          const next = isStatic ? undefined : state.waiting.shift();
          if (next) startLease(state, next.tenant, ctx.self);
          return state;
        }
        case 'offer': {
          // A node offers itself once; a second offer (or one of a node leased already) is ignored.
          if (msg.node.principal.tenant !== undefined || state.free.has(msg.node.principal.nodeId)) return state;
          const next = state.waiting.shift();
          if (next) startLease(state, next.tenant, ctx.self, msg.node);
          else state.free.set(msg.node.principal.nodeId, { node: msg.node, lastHeartbeat: Date.now() });
          return state;
        }
        case 'free-heartbeat': {
          const free = state.free.get(msg.nodeId);
          if (free) free.lastHeartbeat = Date.now();
          // An agent that is neither free nor leased (it reconnected, or was released) serves no one: it leaves.
          else tell(msg.agent, { type: 'shutdown' });
          return state;
        }
        case 'check-free': {
          const now = Date.now();
          for (const [nodeId, free] of state.free) {
            if (now - free.lastHeartbeat <= deps.heartbeatTimeoutMs && deps.directory.connected(free.node.principal)) continue;
            state.free.delete(nodeId);
            tell(free.node.agent, { type: 'shutdown' });
          }
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
            message: isStatic
              ? `static pool ${deps.config.name} had no free node within ${deps.allocationTimeoutMs} ms (${state.leases.size} leased); start more with \`lzy agent --pool ${deps.config.name}\``
              : `pool ${deps.config.name} had no room for a node (all ${deps.config.maxNodes} in use) within ${deps.allocationTimeoutMs} ms`,
          });
          return state;
        }
      }
    },
  });

  /** The free node that joined first and is still connected; those that left are forgotten. */
  function takeFree(state: PoolState): JoinedNode | undefined {
    for (const [nodeId, { node }] of state.free) {
      state.free.delete(nodeId);
      if (deps.directory.connected(node.principal)) return node;
    }
    return undefined;
  }

  function startLease(state: PoolState, tenant: string, poolRef: ActorRef<PoolMsg>, joined?: JoinedNode): void {
    const nodeId = joined?.principal.nodeId ?? newId('node');
    const lease = spawnLease(poolRef as ActorRef<never>, {
      nodeId,
      tenant,
      pool: deps.config,
      node: joined ? { joined } : { backend: deps.backend },
      directory: deps.directory,
      workerTokens: deps.workerTokens,
      scheduler: deps.scheduler,
      serverUrl: deps.serverUrl(),
      heartbeatIntervalMs: deps.heartbeatIntervalMs,
      heartbeatTimeoutMs: deps.heartbeatTimeoutMs,
      allocationTimeoutMs: deps.allocationTimeoutMs,
      ended: (id) => tell(self, { type: 'lease-ended', nodeId: id }),
    });
    state.leases.set(nodeId, lease);
  }

  if (isStatic) setInterval(() => tell(self, { type: 'check-free' }), Math.max(50, deps.heartbeatTimeoutMs / 4)).unref();
  return self;
}
