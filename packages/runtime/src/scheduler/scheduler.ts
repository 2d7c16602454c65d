import Denque from 'denque';
import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { AgentMsg, DataRef, OpFailure, RunAttempt } from '@lzy/node-agent/protocol';
import type { PoolConfig } from '../config.js';

/** How an attempt ended, as its op actor hears it. */
export type AttemptOutcome = { ok: true; result: DataRef } | { ok: false; failure: OpFailure };

/** One attempt of an op, waiting for a slot on a node of its tenant. */
export interface AttemptRequest {
  readonly attemptId: string;
  readonly tenant: string;
  readonly workflowId: string;
  readonly pool: string;
  readonly run: RunAttempt;
  /** The op actor: hears `attempt-ended`. */
  readonly op: ActorRef<{ type: 'attempt-ended'; attemptId: string; outcome: AttemptOutcome }>;
  /** Where the attempt's stdout and stderr go, and notices of retries. */
  readonly logs: ActorRef<OpNotice>;
  readonly opId: string;
}

/** What an op tells its workflow while it runs: output lines and retries. */
export type OpNotice =
  | { type: 'op-log'; opId: string; opName: string; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'op-retrying'; opId: string; opName: string; attempt: number; failure: OpFailure; delayMs: number };

/** A registered node, as the allocator hands it over. */
export interface NodeInfo {
  readonly nodeId: string;
  readonly tenant: string;
  readonly pool: string;
  readonly slots: number;
  readonly agent: ActorRef<AgentMsg>;
}

export type SchedulerMsg =
  | { type: 'enqueue'; attempt: AttemptRequest }
  | { type: 'cancel'; attemptId: string }
  | { type: 'node-up'; node: NodeInfo }
  | { type: 'node-gone'; nodeId: string; reason: string }
  | { type: 'allocation-failed'; tenant: string; pool: string; message: string }
  | { type: 'attempt-finished'; nodeId: string; attemptId: string; outcome: AttemptOutcome }
  | { type: 'attempt-log'; nodeId: string; attemptId: string; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'idle-check'; nodeId: string; since: number };

/** What the scheduler asks of the allocator. */
export type AllocatorRequest = { type: 'lease'; tenant: string; pool: string } | { type: 'release'; nodeId: string; reason: string };

interface NodeSlots {
  readonly info: NodeInfo;
  readonly running: Set<string>;
  /** Which idle period the node is in (a counter), or undefined while it runs something. */
  idleSince: number | undefined;
}

/** Attempts of one (tenant, pool) waiting for a slot, round-robin between workflows. */
interface Queue {
  readonly byWorkflow: Map<string, Denque<AttemptRequest>>;
  readonly order: string[];
  cursor: number;
  size: number;
  leasesPending: number;
}

interface SchedulerState {
  readonly queues: Map<string, Queue>;
  readonly nodes: Map<string, NodeSlots>;
  /** Every attempt known: queued (no node yet) or running on `nodeId`. */
  readonly attempts: Map<string, { request: AttemptRequest; nodeId?: string }>;
}

const keyOf = (tenant: string, pool: string) => `${tenant}\u0000${pool}`;

/**
 * Puts ready attempts on free slots of their tenant's nodes, fairly between workflows, and asks
 * the allocator for nodes when none is free. Nodes of one tenant only ever get that tenant's
 * attempts. A node with nothing to do for its pool's idle timeout is handed back.
 */
export function spawnScheduler(
  parent: Parent,
  deps: { allocator: () => ActorRef<AllocatorRequest>; pools: Map<string, PoolConfig> },
): ActorRef<SchedulerMsg> {
  const self = spawnActor<SchedulerState, SchedulerMsg>(parent, {
    name: 'scheduler',
    initialState: () => ({ queues: new Map(), nodes: new Map(), attempts: new Map() }),
    supervision: 'resume',
    receive: (state, msg) => {
      switch (msg.type) {
        case 'enqueue': {
          const { attempt } = msg;
          state.attempts.set(attempt.attemptId, { request: attempt });
          const queue = queueOf(state, attempt.tenant, attempt.pool);
          let forWorkflow = queue.byWorkflow.get(attempt.workflowId);
          if (!forWorkflow) {
            forWorkflow = new Denque();
            queue.byWorkflow.set(attempt.workflowId, forWorkflow);
            queue.order.push(attempt.workflowId);
          }
          forWorkflow.push(attempt);
          queue.size++;
          dispatch(state, attempt.tenant, attempt.pool);
          return state;
        }
        case 'cancel': {
          const entry = state.attempts.get(msg.attemptId);
          if (!entry) return state;
          state.attempts.delete(msg.attemptId);
          if (entry.nodeId === undefined) {
            removeQueued(state, entry.request);
          } else {
            const node = state.nodes.get(entry.nodeId);
            node?.running.delete(msg.attemptId);
            if (node) tell(node.info.agent, { type: 'cancel', attemptId: msg.attemptId });
            if (node) settle(node);
          }
          return state;
        }
        case 'node-up': {
          const { node } = msg;
          state.nodes.set(node.nodeId, { info: node, running: new Set(), idleSince: undefined });
          const queue = queueOf(state, node.tenant, node.pool);
          if (queue.leasesPending > 0) queue.leasesPending--;
          dispatch(state, node.tenant, node.pool);
          settle(state.nodes.get(node.nodeId)!);
          return state;
        }
        case 'node-gone': {
          const node = state.nodes.get(msg.nodeId);
          if (!node) return state;
          state.nodes.delete(msg.nodeId);
          for (const attemptId of node.running) {
            const entry = state.attempts.get(attemptId);
            state.attempts.delete(attemptId);
            if (entry) {
              failAttempt(entry.request, {
                code: 'NODE_LOST',
                name: 'NodeLostError',
                message: `node ${msg.nodeId} was lost: ${msg.reason}`,
                retryable: true,
              });
            }
          }
          dispatch(state, node.info.tenant, node.info.pool);
          return state;
        }
        case 'allocation-failed': {
          const queue = queueOf(state, msg.tenant, msg.pool);
          if (queue.leasesPending > 0) queue.leasesPending--;
          const hasNode = [...state.nodes.values()].some((n) => n.info.tenant === msg.tenant && n.info.pool === msg.pool);
          if (hasNode || queue.leasesPending > 0) return state;
          // No node will come for these attempts: fail them, their ops decide whether to retry.
          for (const forWorkflow of queue.byWorkflow.values()) {
            for (let attempt = forWorkflow.shift(); attempt; attempt = forWorkflow.shift()) {
              state.attempts.delete(attempt.attemptId);
              failAttempt(attempt, { code: 'ALLOCATION_FAILED', name: 'AllocationError', message: msg.message, retryable: false });
            }
          }
          queue.byWorkflow.clear();
          queue.order.length = 0;
          queue.size = 0;
          return state;
        }
        case 'attempt-finished': {
          const entry = state.attempts.get(msg.attemptId);
          // An agent reports only attempts it was given; anything else is stale or forged.
          if (!entry || entry.nodeId !== msg.nodeId) return state;
          state.attempts.delete(msg.attemptId);
          const node = state.nodes.get(msg.nodeId);
          tell(entry.request.op, { type: 'attempt-ended', attemptId: msg.attemptId, outcome: msg.outcome });
          if (node) {
            node.running.delete(msg.attemptId);
            dispatch(state, node.info.tenant, node.info.pool);
            settle(node);
          }
          return state;
        }
        case 'attempt-log': {
          const entry = state.attempts.get(msg.attemptId);
          if (!entry || entry.nodeId !== msg.nodeId) return state;
          const { request } = entry;
          tell(request.logs, { type: 'op-log', opId: request.opId, opName: request.run.opName, stream: msg.stream, text: msg.text });
          return state;
        }
        case 'idle-check': {
          const node = state.nodes.get(msg.nodeId);
          if (!node || node.idleSince !== msg.since) return state;
          state.nodes.delete(msg.nodeId);
          tell(deps.allocator(), { type: 'release', nodeId: msg.nodeId, reason: 'idle timeout' });
          return state;
        }
      }
    },
  });

  function failAttempt(attempt: AttemptRequest, failure: OpFailure): void {
    tell(attempt.op, { type: 'attempt-ended', attemptId: attempt.attemptId, outcome: { ok: false, failure } });
  }

  function queueOf(state: SchedulerState, tenant: string, pool: string): Queue {
    const key = keyOf(tenant, pool);
    let queue = state.queues.get(key);
    if (!queue) {
      queue = { byWorkflow: new Map(), order: [], cursor: 0, size: 0, leasesPending: 0 };
      state.queues.set(key, queue);
    }
    return queue;
  }

  function nextAttempt(queue: Queue): AttemptRequest | undefined {
    while (queue.order.length > 0) {
      queue.cursor %= queue.order.length;
      const workflowId = queue.order[queue.cursor]!;
      const forWorkflow = queue.byWorkflow.get(workflowId)!;
      const attempt = forWorkflow.shift();
      if (forWorkflow.length === 0) {
        queue.byWorkflow.delete(workflowId);
        queue.order.splice(queue.cursor, 1);
      } else {
        queue.cursor++;
      }
      if (attempt) {
        queue.size--;
        return attempt;
      }
    }
    return undefined;
  }

  function removeQueued(state: SchedulerState, attempt: AttemptRequest): void {
    const queue = queueOf(state, attempt.tenant, attempt.pool);
    const forWorkflow = queue.byWorkflow.get(attempt.workflowId);
    if (!forWorkflow) return;
    const items = forWorkflow.toArray().filter((a) => a.attemptId !== attempt.attemptId);
    if (items.length === forWorkflow.length) return;
    forWorkflow.clear();
    items.forEach((a) => forWorkflow.push(a));
    queue.size--;
  }

  /** Fills free slots of (tenant, pool) nodes from its queue; asks for nodes when slots run out. */
  function dispatch(state: SchedulerState, tenant: string, pool: string): void {
    const queue = queueOf(state, tenant, pool);
    if (queue.size === 0) return;
    const candidates = [...state.nodes.values()].filter((n) => n.info.tenant === tenant && n.info.pool === pool);
    for (;;) {
      let best: NodeSlots | undefined;
      for (const node of candidates) {
        const free = node.info.slots - node.running.size;
        if (free > 0 && (!best || free > best.info.slots - best.running.size)) best = node;
      }
      if (!best) break;
      const attempt = nextAttempt(queue);
      if (!attempt) return;
      best.running.add(attempt.attemptId);
      best.idleSince = undefined;
      state.attempts.set(attempt.attemptId, { request: attempt, nodeId: best.info.nodeId });
      tell(best.info.agent, attempt.run);
    }
    const config = deps.pools.get(pool);
    const slotsPerNode = config?.slots ?? 1;
    // Never ask for more nodes than the pool can ever give this tenant: the extra requests would
    // only wait in the pool and bring up nodes after the work is done.
    const room = (config?.maxNodes ?? 1) - candidates.length - queue.leasesPending;
    const wanted = Math.min(room, Math.ceil(queue.size / slotsPerNode) - queue.leasesPending);
    for (let i = 0; i < wanted; i++) {
      queue.leasesPending++;
      tell(deps.allocator(), { type: 'lease', tenant, pool });
    }
  }

  /** Starts the idle clock of a node that has nothing to run. */
  let idleEpoch = 0;
  function settle(node: NodeSlots): void {
    if (node.running.size > 0 || node.idleSince !== undefined) return;
    const since = ++idleEpoch;
    node.idleSince = since;
    const idleTimeoutMs = deps.pools.get(node.info.pool)?.idleTimeoutMs ?? 30_000;
    setTimeout(() => tell(self, { type: 'idle-check', nodeId: node.info.nodeId, since }), idleTimeoutMs).unref();
  }

  return self;
}
