import { spawnActor, stopActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { AgentMsg } from '@lzy/node-agent/protocol';
import type { PoolConfig } from '../config.js';
import type { WorkerTokens } from '../iam/worker-tokens.js';
import type { SchedulerMsg } from '../scheduler/scheduler.js';
import type { NodeBackend, NodeHandle } from './backend.js';
import type { NodeDirectory, NodePrincipal } from './node-directory.js';
import { publishLeaseChanged } from '../observe/events.js';

/** `allocating → ready → releasing → gone`; `ready` is idle or busy, as the scheduler sees it. */
export type LeaseStatus = 'allocating' | 'ready' | 'releasing' | 'gone';

export type LeaseMsg =
  | { type: 'registered'; slots: number; agent: ActorRef<AgentMsg> }
  /** A heartbeat, from the connection `agent` (a new one after the agent re-joined), listing the attempts it runs. */
  | { type: 'heartbeat'; agent: ActorRef<AgentMsg>; running: string[] }
  | { type: 'release'; reason: string }
  | { type: 'exited'; reason: string }
  | { type: 'check' };

interface LeaseState {
  status: LeaseStatus;
  lastHeartbeat: number;
  readonly startedAt: number;
  agent?: ActorRef<AgentMsg>;
}

/** A node of a static pool that joined and registered: up already, leased as it is. */
export interface JoinedNode {
  readonly principal: NodePrincipal;
  readonly slots: number;
  readonly agent: ActorRef<AgentMsg>;
}

export interface LeaseDeps {
  readonly nodeId: string;
  readonly tenant: string;
  readonly pool: PoolConfig;
  /** Where the node comes from: the backend starts it, or it joined a static pool. */
  readonly node: { readonly backend: NodeBackend } | { readonly joined: JoinedNode };
  readonly directory: NodeDirectory;
  /** Issues the worker token the lease gives its agent, and renews while it lives. */
  readonly workerTokens: WorkerTokens;
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly serverUrl: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly allocationTimeoutMs: number;
  /** The pool: hears when this lease is gone. */
  readonly ended: (nodeId: string) => void;
}

/**
 * One leased node, owned by one tenant for its whole life: starts it through the backend and waits
 * for its agent to register (or takes a joined node as it is), watches its heartbeats, and removes
 * it when released or lost. A released joined node is told to shut down and is gone at once: its
 * agent process exits, and `lzy agent` starts a fresh one that joins as a new node.
 * With the tenant, the lease gives its agent a worker token bound to it, and a fresh one at half
 * its lifetime while the lease lives; the agent renews its connection's credential with it.
 */
export function spawnLease(parent: Parent, deps: LeaseDeps): ActorRef<LeaseMsg> {
  let handle: NodeHandle | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** When the token the agent holds reaches half its lifetime, and a fresh one is due. */
  let renewAt = Infinity;
  /**
   * Tells `agent` the tenant its node is leased to, with a fresh worker token; a connection closed
   * already is lost once its heartbeats stop.
   */
  const tellLeased = (agent: ActorRef<AgentMsg>) => {
    const joined = 'joined' in deps.node;
    const { token, expiresAt } = deps.workerTokens.issue({ nodeId: deps.nodeId, tenant: deps.tenant, pool: deps.pool.name, joined });
    renewAt = expiresAt - deps.workerTokens.ttlMs / 2;
    try {
      tell(agent, { type: 'leased', tenant: deps.tenant, nodeId: deps.nodeId, token, expiresAt });
    } catch {
      // Its connection closed already: the node is lost when its heartbeats stop.
    }
  };
  const changed = (status: LeaseStatus, reason?: string) =>
    publishLeaseChanged({ tenant: deps.tenant, pool: deps.pool.name, nodeId: deps.nodeId, status, ...(reason === undefined ? {} : { reason }) });
  changed('allocating');
  const self: ActorRef<LeaseMsg> = spawnActor<LeaseState, LeaseMsg>(parent, {
    name: deps.nodeId,
    initialState: () => ({ status: 'allocating', lastHeartbeat: Date.now(), startedAt: Date.now() }),
    supervision: 'resume',
    receive: (state, msg) => {
      switch (msg.type) {
        case 'registered':
          if (state.status !== 'allocating') return state;
          state.status = 'ready';
          changed('ready');
          state.lastHeartbeat = Date.now();
          state.agent = msg.agent;
          // Before the scheduler hears of the node, so that the agent knows its tenant before any op arrives.
          tellLeased(msg.agent);
          tell(deps.scheduler, {
            type: 'node-up',
            node: { nodeId: deps.nodeId, tenant: deps.tenant, pool: deps.pool.name, slots: msg.slots, agent: msg.agent },
          });
          return state;
        case 'heartbeat':
          state.lastHeartbeat = Date.now();
          // The agent re-joined over a new connection (a Kubernetes agent whose connection dropped):
          // the node goes on serving through it. Its first heartbeat there follows whatever the agent
          // reported while it was cut off, so what it does not list was lost on the way to it.
          if (state.status === 'ready' && state.agent !== undefined && msg.agent !== state.agent) {
            state.agent = msg.agent;
            tellLeased(msg.agent);
            tell(deps.scheduler, { type: 'node-rejoined', nodeId: deps.nodeId, agent: msg.agent, running: msg.running });
          }
          return state;
        case 'check': {
          const now = Date.now();
          if (state.status === 'allocating' && now - state.startedAt > deps.allocationTimeoutMs) {
            tell(deps.scheduler, {
              type: 'allocation-failed',
              tenant: deps.tenant,
              pool: deps.pool.name,
              message: `node ${deps.nodeId} of pool ${deps.pool.name} did not register within ${deps.allocationTimeoutMs} ms${handle?.describe ? `: ${handle.describe()}` : ''}`,
            });
            return end(state, 'allocation timed out');
          }
          if (state.status === 'ready' && now - state.lastHeartbeat > deps.heartbeatTimeoutMs) {
            tell(deps.scheduler, { type: 'node-gone', nodeId: deps.nodeId, reason: `no heartbeat for ${now - state.lastHeartbeat} ms` });
            return end(state, 'lost');
          }
          // A joined node that reconnects comes back as a new node: once its connection closes, it is lost.
          if (state.status === 'ready' && 'joined' in deps.node && !deps.directory.connected(deps.node.joined.principal)) {
            tell(deps.scheduler, { type: 'node-gone', nodeId: deps.nodeId, reason: 'its agent disconnected' });
            return end(state, 'lost');
          }
          if (state.status === 'ready' && state.agent !== undefined && now >= renewAt) tellLeased(state.agent);
          return state;
        }
        case 'release':
          if (state.status === 'gone' || state.status === 'releasing') return state;
          deps.directory.release(deps.nodeId);
          if (state.status === 'ready') tell(deps.scheduler, { type: 'node-gone', nodeId: deps.nodeId, reason: msg.reason });
          state.status = 'releasing';
          changed('releasing', msg.reason);
          if (state.agent) {
            tell(state.agent, { type: 'shutdown' });
            handle?.stop();
          } else handle?.kill();
          if ('joined' in deps.node) return end(state, msg.reason);
          // An agent that does not leave in time is removed.
          setTimeout(() => handle?.kill(), 5_000).unref();
          return state;
        case 'exited':
          if (state.status === 'ready' || state.status === 'allocating') {
            if (state.status === 'ready') tell(deps.scheduler, { type: 'node-gone', nodeId: deps.nodeId, reason: msg.reason });
            else tell(deps.scheduler, { type: 'allocation-failed', tenant: deps.tenant, pool: deps.pool.name, message: msg.reason });
          }
          return end(state, msg.reason);
      }
    },
  });

  function end(state: LeaseState, reason: string): LeaseState {
    if (state.status === 'gone') return state;
    changed('gone', reason);
    // A lost joined node may still be running somewhere: it must serve no one again.
    if (state.status !== 'releasing' && 'joined' in deps.node) tell(deps.node.joined.agent, { type: 'shutdown' });
    state.status = 'gone';
    clearInterval(timer);
    handle?.kill();
    deps.directory.remove(deps.nodeId);
    deps.ended(deps.nodeId);
    stopActor(self);
    return state;
  }

  if ('joined' in deps.node) {
    const { principal, slots, agent } = deps.node.joined;
    deps.directory.attach(principal, deps.tenant, self);
    tell(self, { type: 'registered', slots, agent });
  } else {
    const principal = { kind: 'node', nodeId: deps.nodeId, tenant: deps.tenant, pool: deps.pool.name, joined: false } as const;
    const token = deps.directory.add(principal, self);
    handle = deps.node.backend.start({
      nodeId: deps.nodeId,
      tenant: deps.tenant,
      pool: deps.pool,
      token,
      serverUrl: deps.serverUrl,
      heartbeatIntervalMs: deps.heartbeatIntervalMs,
    });
    handle.onExit((reason) => tell(self, { type: 'exited', reason }));
  }
  const every = Math.max(50, Math.min(deps.heartbeatTimeoutMs, deps.allocationTimeoutMs, deps.workerTokens.ttlMs / 2) / 4);
  timer = setInterval(() => tell(self, { type: 'check' }), every);
  timer.unref();
  return self;
}
