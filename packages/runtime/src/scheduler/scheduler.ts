import Denque from 'denque';
import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import { MAX_BATCH, runMessage, type AgentMsg, type AttemptFinished, type DataRef, type LogChunk, type OpFailure, type RunAttempt } from '@lzy/node-agent/protocol';
import type { PoolConfig } from '../config.js';
import type { AttemptGrants } from '../storage/attempt-grants.js';
import { attemptPhases, waitOf, type AttemptPhases, type SchedulerWait } from './attempt-phases.js';

/** How an attempt ended, as its op actor hears it. */
export type AttemptOutcome = { ok: true; result: DataRef } | { ok: false; failure: OpFailure };

/** One attempt of an op, waiting for a slot on a node of its tenant. */
export interface AttemptRequest {
  readonly attemptId: string;
  readonly tenant: string;
  readonly workflowId: string;
  readonly pool: string;
  readonly run: RunAttempt;
  /** The op actor: hears `attempt-ended`, with where the attempt's time went. */
  readonly op: ActorRef<{ type: 'attempt-ended'; attemptId: string; outcome: AttemptOutcome; phases: AttemptPhases }>;
  /** Where the attempt's stdout and stderr go, and notices of retries. */
  readonly logs: ActorRef<OpNotice>;
  /** The op's graph: hears which of its ops were given to a node. */
  readonly graph: ActorRef<OpsRunning>;
  readonly opId: string;
  readonly opName: string;
}

/** What an op tells its workflow while it runs: output lines and retries. */
export type OpNotice =
  | { type: 'op-log'; opId: string; opName: string; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'op-retrying'; opId: string; opName: string; attempt: number; failure: OpFailure; delayMs: number };

/** Scheduler → graph: these ops' attempts were given to nodes (at `at`, ms since the epoch). */
export interface OpsRunning {
  readonly type: 'ops-running';
  readonly opIds: string[];
  readonly at: number;
}

/** A registered node, as the allocator hands it over. */
export interface NodeInfo {
  readonly nodeId: string;
  readonly tenant: string;
  readonly pool: string;
  readonly slots: number;
  readonly agent: ActorRef<AgentMsg>;
}

export type SchedulerMsg =
  | { type: 'enqueue'; attempts: AttemptRequest[] }
  | { type: 'cancel'; attemptId: string }
  | { type: 'node-up'; node: NodeInfo }
  | { type: 'node-gone'; nodeId: string; reason: string }
  /** A node's agent re-joined over a new connection; `running`: the attempts it runs, after its reports. */
  | { type: 'node-rejoined'; nodeId: string; agent: ActorRef<AgentMsg>; running: string[] }
  | { type: 'allocation-failed'; tenant: string; pool: string; message: string }
  | { type: 'report'; nodeId: string; logs: LogChunk[]; finished: AttemptFinished[] }
  | { type: 'dispatch' }
  | { type: 'idle-check'; nodeId: string; since: number };

/** What the scheduler asks of the allocator. */
export type AllocatorRequest = { type: 'lease'; tenant: string; pool: string } | { type: 'release'; nodeId: string; reason: string };

interface NodeSlots {
  /** Its agent changes when it re-joins over a new connection. */
  info: NodeInfo;
  /** The queue of the node's (tenant, pool): the only attempts it takes. */
  readonly queue: Queue;
  /** The attempts the node was given and has not reported finished: running, or waiting on the node. */
  readonly running: Set<string>;
  /** Which idle period the node is in (a counter), or undefined while it runs something. */
  idleSince: number | undefined;
  /** When it came up (performance.now()). */
  readonly upAt: number;
}

/** Attempts of one (tenant, pool) waiting for a slot, round-robin between workflows, and the nodes they can go to. */
interface Queue {
  readonly tenant: string;
  readonly pool: string;
  readonly byWorkflow: Map<string, Denque<AttemptEntry>>;
  readonly order: string[];
  cursor: number;
  size: number;
  leasesPending: number;
  readonly nodes: NodeSlots[];
  /** Moving average of how long its attempts ran on their runners, in ms; undefined before the first. */
  meanRunMs: number | undefined;
}

interface SchedulerState {
  readonly queues: Map<string, Queue>;
  readonly nodes: Map<string, NodeSlots>;
  /** Every attempt known, by id. */
  readonly attempts: Map<string, AttemptEntry>;
  /** Queues to dispatch at the end of this turn. */
  readonly dirty: Set<Queue>;
}

/** An attempt the scheduler knows: queued (no node yet), or given to `nodeId`. Queues hold these same entries. */
interface AttemptEntry {
  readonly request: AttemptRequest;
  nodeId: string | undefined;
  /** When it was queued (performance.now()), and how long it waited once given to a node. */
  readonly queuedAt: number;
  wait: SchedulerWait | undefined;
}

const keyOf = (tenant: string, pool: string) => `${tenant}\u0000${pool}`;

/**
 * Attempts that run shorter than this on average are sent to nodes ahead of free slots, so that a
 * node always has the next ones at hand and the messages carry many attempts each. Longer ones
 * wait here for a free slot: another node may free one first.
 */
const PREFETCH_BELOW_MS = 25;
/**
 * How much work, in ms of mean run time, a slot may hold beyond the attempt it runs: deep enough
 * that tiny ops travel in large batches, shallow enough that no node sits on more than this while
 * another one idles.
 */
const PREFETCH_WORK_MS = 10;
/** The most attempts a slot may hold beyond the one it runs. */
const PREFETCH_MAX_PER_SLOT = 64;
/** Weight of the newest run time in the moving average. */
const RUN_MS_WEIGHT = 0.1;

/**
 * Puts ready attempts on free slots of their tenant's nodes, fairly between workflows, and asks
 * the allocator for nodes when none is free. Nodes of one tenant only ever get that tenant's
 * attempts, and may touch in storage only what the attempts they run need (`deps.grants`). A node with nothing to do for its pool's idle timeout is handed back. Attempts queued
 * or finished within one turn are dispatched together: one `run` message per node.
 */
export function spawnScheduler(
  parent: Parent,
  deps: {
    allocator: () => ActorRef<AllocatorRequest>;
    pools: Map<string, PoolConfig>;
    /** What nodes may do in storage: given with each attempt a node gets, ended when it ends there. */
    grants: AttemptGrants;
  },
): ActorRef<SchedulerMsg> {
  let dispatchScheduled = false;
  const self = spawnActor<SchedulerState, SchedulerMsg>(parent, {
    name: 'scheduler',
    initialState: () => ({ queues: new Map(), nodes: new Map(), attempts: new Map(), dirty: new Set() }),
    supervision: 'resume',
    receive: (state, msg) => {
      switch (msg.type) {
        case 'enqueue': {
          // The attempts of one message are mostly of one (tenant, pool): its queue is looked up once.
          let queue: Queue | undefined;
          const queuedAt = performance.now();
          for (const attempt of msg.attempts) {
            const entry: AttemptEntry = { request: attempt, nodeId: undefined, queuedAt, wait: undefined };
            state.attempts.set(attempt.attemptId, entry);
            if (queue?.tenant !== attempt.tenant || queue.pool !== attempt.pool) queue = queueOf(state, attempt.tenant, attempt.pool);
            let forWorkflow = queue.byWorkflow.get(attempt.workflowId);
            if (!forWorkflow) {
              forWorkflow = new Denque();
              queue.byWorkflow.set(attempt.workflowId, forWorkflow);
              queue.order.push(attempt.workflowId);
            }
            forWorkflow.push(entry);
            queue.size++;
            markDirty(state, queue);
          }
          return state;
        }
        case 'dispatch': {
          dispatchScheduled = false;
          for (const queue of state.dirty) dispatch(state, queue);
          state.dirty.clear();
          return state;
        }
        case 'cancel': {
          const entry = state.attempts.get(msg.attemptId);
          if (!entry) return state;
          state.attempts.delete(msg.attemptId);
          deps.grants.end(msg.attemptId);
          if (entry.nodeId === undefined) {
            removeQueued(state, entry.request);
          } else {
            const node = state.nodes.get(entry.nodeId);
            if (node) {
              node.running.delete(msg.attemptId);
              tell(node.info.agent, { type: 'cancel', attemptId: msg.attemptId });
              markDirty(state, node.queue);
              settle(node);
            }
          }
          return state;
        }
        case 'node-up': {
          const queue = queueOf(state, msg.node.tenant, msg.node.pool);
          const node: NodeSlots = { info: msg.node, queue, running: new Set(), idleSince: undefined, upAt: performance.now() };
          state.nodes.set(node.info.nodeId, node);
          queue.nodes.push(node);
          if (queue.leasesPending > 0) queue.leasesPending--;
          dispatch(state, queue);
          settle(node);
          return state;
        }
        case 'node-rejoined': {
          const node = state.nodes.get(msg.nodeId);
          if (!node) return state;
          node.info = { ...node.info, agent: msg.agent };
          // What the node was given and neither reported nor runs never reached it: sent again, as it was.
          const running = new Set(msg.running);
          const lost = [...node.running].filter((attemptId) => !running.has(attemptId));
          const runs = lost.flatMap((attemptId) => state.attempts.get(attemptId)?.request.run ?? []);
          for (let at = 0; at < runs.length; at += MAX_BATCH) tell(msg.agent, runMessage(runs.slice(at, at + MAX_BATCH)));
          return state;
        }
        case 'node-gone': {
          const node = forget(state, msg.nodeId);
          if (!node) return state;
          for (const attemptId of node.running) {
            const entry = state.attempts.get(attemptId);
            state.attempts.delete(attemptId);
            deps.grants.end(attemptId);
            if (entry) {
              failAttempt(entry, {
                code: 'NODE_LOST',
                name: 'NodeLostError',
                message: `node ${msg.nodeId} was lost: ${msg.reason}`,
                retryable: true,
              });
            }
          }
          markDirty(state, node.queue);
          return state;
        }
        case 'allocation-failed': {
          const queue = queueOf(state, msg.tenant, msg.pool);
          if (queue.leasesPending > 0) queue.leasesPending--;
          if (queue.nodes.length > 0 || queue.leasesPending > 0) return state;
          // No node will come for these attempts: fail them, their ops decide whether to retry.
          const now = performance.now();
          for (const forWorkflow of queue.byWorkflow.values()) {
            for (let entry = forWorkflow.shift(); entry; entry = forWorkflow.shift()) {
              state.attempts.delete(entry.request.attemptId);
              entry.wait = { queueMs: 0, allocateMs: now - entry.queuedAt };
              failAttempt(entry, { code: 'ALLOCATION_FAILED', name: 'AllocationError', message: msg.message, retryable: false });
            }
          }
          queue.byWorkflow.clear();
          queue.order.length = 0;
          queue.size = 0;
          return state;
        }
        case 'report': {
          // An agent reports only attempts it was given; anything else is stale or forged.
          const givenHere = (attemptId: string) => {
            const entry = state.attempts.get(attemptId);
            return entry && entry.nodeId === msg.nodeId ? entry : undefined;
          };
          for (const log of msg.logs) {
            const request = givenHere(log.attemptId)?.request;
            if (request) tell(request.logs, { type: 'op-log', opId: request.opId, opName: request.opName, stream: log.stream, text: log.text });
          }
          const node = state.nodes.get(msg.nodeId);
          for (const finished of msg.finished) {
            const { attemptId, outcome, runMs } = finished;
            const entry = givenHere(attemptId);
            if (!entry) continue;
            state.attempts.delete(attemptId);
            deps.grants.end(attemptId);
            tell(entry.request.op, { type: 'attempt-ended', attemptId, outcome, phases: attemptPhases(entry.wait, msg.nodeId, finished) });
            if (!node) continue;
            node.running.delete(attemptId);
            if (runMs !== undefined) learnRunTime(node.queue, runMs);
          }
          if (node && msg.finished.length > 0) {
            markDirty(state, node.queue);
            settle(node);
          }
          return state;
        }
        case 'idle-check': {
          const node = state.nodes.get(msg.nodeId);
          if (!node || node.idleSince !== msg.since) return state;
          forget(state, msg.nodeId);
          tell(deps.allocator(), { type: 'release', nodeId: msg.nodeId, reason: 'idle timeout' });
          return state;
        }
      }
    },
  });

  function failAttempt(entry: AttemptEntry, failure: OpFailure): void {
    const { op, attemptId } = entry.request;
    tell(op, { type: 'attempt-ended', attemptId, outcome: { ok: false, failure }, phases: attemptPhases(entry.wait, entry.nodeId) });
  }

  function queueOf(state: SchedulerState, tenant: string, pool: string): Queue {
    const key = keyOf(tenant, pool);
    let queue = state.queues.get(key);
    if (!queue) {
      queue = { tenant, pool, byWorkflow: new Map(), order: [], cursor: 0, size: 0, leasesPending: 0, nodes: [], meanRunMs: undefined };
      state.queues.set(key, queue);
    }
    return queue;
  }

  /** Drops a node from the scheduler's view; returns it if it was known. */
  function forget(state: SchedulerState, nodeId: string): NodeSlots | undefined {
    const node = state.nodes.get(nodeId);
    if (!node) return undefined;
    state.nodes.delete(nodeId);
    const { nodes } = node.queue;
    nodes.splice(nodes.indexOf(node), 1);
    return node;
  }

  /** Dispatches `queue` at the end of this turn, together with everything else that changed in it. */
  function markDirty(state: SchedulerState, queue: Queue): void {
    state.dirty.add(queue);
    if (dispatchScheduled) return;
    dispatchScheduled = true;
    setImmediate(() => tell(self, { type: 'dispatch' }));
  }

  /** How many attempts a slot may hold beyond the one it runs, given the queue's mean run time. */
  function prefetchPerSlot(meanRunMs: number | undefined): number {
    if (meanRunMs === undefined || meanRunMs >= PREFETCH_BELOW_MS) return 0;
    return Math.max(1, Math.min(PREFETCH_MAX_PER_SLOT, Math.floor(PREFETCH_WORK_MS / meanRunMs)));
  }

  function learnRunTime(queue: Queue, runMs: number): void {
    queue.meanRunMs = queue.meanRunMs === undefined ? runMs : queue.meanRunMs + RUN_MS_WEIGHT * (runMs - queue.meanRunMs);
  }

  function nextAttempt(queue: Queue): AttemptEntry | undefined {
    while (queue.order.length > 0) {
      queue.cursor %= queue.order.length;
      const workflowId = queue.order[queue.cursor]!;
      const forWorkflow = queue.byWorkflow.get(workflowId)!;
      const entry = forWorkflow.shift();
      if (forWorkflow.length === 0) {
        queue.byWorkflow.delete(workflowId);
        queue.order.splice(queue.cursor, 1);
      } else {
        queue.cursor++;
      }
      if (entry) {
        queue.size--;
        return entry;
      }
    }
    return undefined;
  }

  function removeQueued(state: SchedulerState, attempt: AttemptRequest): void {
    const queue = queueOf(state, attempt.tenant, attempt.pool);
    const forWorkflow = queue.byWorkflow.get(attempt.workflowId);
    if (!forWorkflow) return;
    const items = forWorkflow.toArray().filter((entry) => entry.request.attemptId !== attempt.attemptId);
    if (items.length === forWorkflow.length) return;
    forWorkflow.clear();
    items.forEach((entry) => forWorkflow.push(entry));
    queue.size--;
  }

  /**
   * Fills free slots of the queue's nodes, the emptiest node first, with one `run` message per
   * node; asks for nodes when slots run out.
   */
  function dispatch(state: SchedulerState, queue: Queue): void {
    if (queue.size === 0) return;
    const extra = prefetchPerSlot(queue.meanRunMs);
    const free = (node: NodeSlots) => node.info.slots * (1 + extra) - node.running.size;
    const runs = new Map<NodeSlots, RunAttempt[]>();
    const running = new Map<ActorRef<OpsRunning>, string[]>();
    const now = performance.now();
    while (queue.size > 0) {
      let best: NodeSlots | undefined;
      for (const node of queue.nodes) {
        if (free(node) > 0 && (!best || free(node) > free(best))) best = node;
      }
      if (!best) break;
      const entry = nextAttempt(queue)!;
      best.running.add(entry.request.attemptId);
      best.idleSince = undefined;
      entry.nodeId = best.info.nodeId;
      entry.wait = waitOf(entry.queuedAt, best.upAt, now);
      deps.grants.give(best.info.nodeId, entry.request.run, entry.request.workflowId);
      const forNode = runs.get(best);
      if (forNode) forNode.push(entry.request.run);
      else runs.set(best, [entry.request.run]);
      const ofGraph = running.get(entry.request.graph);
      if (ofGraph) ofGraph.push(entry.request.opId);
      else running.set(entry.request.graph, [entry.request.opId]);
    }
    const at = Date.now();
    for (const [graph, opIds] of running) tell(graph, { type: 'ops-running', opIds, at });
    for (const [node, attempts] of runs) {
      for (let at = 0; at < attempts.length; at += MAX_BATCH) tell(node.info.agent, runMessage(attempts.slice(at, at + MAX_BATCH)));
    }
    if (queue.size === 0) return;
    const config = deps.pools.get(queue.pool);
    const slotsPerNode = config?.slots ?? 1;
    // Never ask for more nodes than the pool can ever give this tenant: the extra requests would
    // only wait in the pool and bring up nodes after the work is done.
    const room = (config?.maxNodes ?? 1) - queue.nodes.length - queue.leasesPending;
    const wanted = Math.min(room, Math.ceil(queue.size / slotsPerNode) - queue.leasesPending);
    for (let i = 0; i < wanted; i++) {
      queue.leasesPending++;
      tell(deps.allocator(), { type: 'lease', tenant: queue.tenant, pool: queue.pool });
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
