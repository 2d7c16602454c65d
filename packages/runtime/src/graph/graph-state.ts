import type { DataRef, OpFailure } from '@lzy/node-agent/protocol';
import type { AttemptTimings, CacheMiss, OpCounts, OpInfo, OpSpec } from '../protocol/client.js';

/**
 * An op of a workflow's graph. `waiting` → `queued` → `running` → `succeeded | failed | cancelled`;
 * only the terminal states are journaled, the others are rebuilt on replay (a non-terminal op
 * with all inputs ready simply runs again).
 */
export type OpStatus = 'waiting' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface OpNode {
  readonly spec: OpSpec;
  status: OpStatus;
  /** Inputs from ops that have not succeeded yet; the op is ready at 0. */
  pending: number;
  /** The ops that take its result; absent while none does (most ops of a wide graph). */
  dependents?: string[];
  result?: DataRef;
  cached?: boolean;
  /** Attempts given to nodes so far (0 for a cache hit). */
  attempts?: number;
  /** When its first attempt was given to a node (or it was taken from the cache), and when it ended; ms since the epoch. */
  startedAt?: number;
  endedAt?: number;
  /** Why a cached op was not taken from the cache. */
  miss?: CacheMiss;
  /** Set once it failed for good. */
  failure?: { failure: OpFailure; attempt: number };
  /** Where its attempts' time went, journaled with its outcome. */
  timings?: AttemptTimings[];
  /** How long its outcome took to be journaled, from the moment the graph heard it. */
  commitMs?: number;
}

/** When an op ran and how, as journaled with its outcome. */
export interface OpRecord {
  attempts?: number;
  startedAt?: number;
  endedAt?: number;
  miss?: CacheMiss;
  timings?: AttemptTimings[];
}

export interface GraphState {
  readonly ops: Map<string, OpNode>;
  /** How many ops are in each state, kept up to date by `setStatus`. */
  readonly counts: OpCounts;
  /** Set once an op failed for good or the graph was cancelled: nothing new starts. */
  stopped?: { reason: string; failedOp?: string };
}

/** An op's success as journaled. */
export interface OpSuccess extends OpRecord {
  opId: string;
  result: DataRef;
  cached: boolean;
}

/** What a graph journals. */
export type GraphEvent =
  | { type: 'ops-added'; ops: OpSpec[] }
  | { type: 'ops-succeeded'; results: OpSuccess[] }
  | ({ type: 'op-failed'; opId: string; failure: OpFailure; attempt?: number } & Omit<OpRecord, 'attempts'>)
  | { type: 'stopped'; reason: string }
  /** How long ops' outcomes took to be journaled, measured once they were: journaled with a later write. */
  | { type: 'ops-committed'; commits: Array<[opId: string, ms: number]> };

export function emptyGraph(): GraphState {
  return { ops: new Map(), counts: { waiting: 0, queued: 0, running: 0, succeeded: 0, cached: 0, failed: 0, cancelled: 0 } };
}

/** Moves an op to `status`, keeping the counts right. */
export function setStatus(state: GraphState, node: OpNode, status: OpStatus): void {
  state.counts[node.status]--;
  state.counts[status]++;
  node.status = status;
}

/**
 * Checks a submission against the graph: ids new (or identical to an existing call, which is then
 * skipped), args naming ops that exist in the graph or earlier in the submission, no cycles
 * (guaranteed by that order). Returns the ops to add, or what is wrong.
 */
export function validateSubmission(state: GraphState, ops: OpSpec[]): { add: OpSpec[] } | { error: string } {
  if (state.stopped) return { error: `the workflow's graph is stopped: ${state.stopped.reason}` };
  const seen = new Set<string>();
  const add: OpSpec[] = [];
  // Indexed loops here and in `applyGraphEvent`: they run once per submission over thousands of ops, mostly before they are optimized.
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if (state.ops.has(op.id) || seen.has(op.id)) continue; // an identical call runs once
    for (let a = 0; a < op.args.length; a++) {
      const arg = op.args[a]!;
      if (arg.kind === 'op' && !state.ops.has(arg.opId) && !seen.has(arg.opId)) {
        return { error: `op ${op.name} (${op.id}) takes the result of op ${arg.opId}, which is not in the graph` };
      }
    }
    seen.add(op.id);
    add.push(op);
  }
  return { add };
}

/** Applies a journaled event; deterministic, so a replay rebuilds the same graph. */
export function applyGraphEvent(state: GraphState, event: GraphEvent): GraphState {
  switch (event.type) {
    case 'ops-added':
      for (let i = 0; i < event.ops.length; i++) {
        const spec = event.ops[i]!;
        const node: OpNode = { spec, status: 'waiting', pending: 0 };
        state.counts.waiting++;
        for (let a = 0; a < spec.args.length; a++) {
          const arg = spec.args[a]!;
          if (arg.kind !== 'op') continue;
          const input = state.ops.get(arg.opId)!;
          (input.dependents ??= []).push(spec.id);
          if (input.status !== 'succeeded') node.pending++;
        }
        state.ops.set(spec.id, node);
      }
      return state;
    case 'ops-succeeded':
      for (const success of event.results) {
        const node = state.ops.get(success.opId)!;
        if (node.status === 'succeeded') continue;
        setStatus(state, node, 'succeeded');
        node.result = success.result;
        node.cached = success.cached;
        if (success.cached) state.counts.cached++;
        record(node, success);
        if (node.dependents) for (const id of node.dependents) state.ops.get(id)!.pending--;
      }
      return state;
    case 'op-failed': {
      const node = state.ops.get(event.opId)!;
      setStatus(state, node, 'failed');
      node.failure = { failure: event.failure, attempt: event.attempt ?? 0 };
      // Its last attempt is how many it had.
      record(node, event.attempt === undefined ? event : { ...event, attempts: event.attempt });
      state.stopped = { reason: `op ${node.spec.name} failed: ${event.failure.message}`, failedOp: event.opId };
      return state;
    }
    case 'ops-committed':
      for (const [opId, ms] of event.commits) {
        const node = state.ops.get(opId);
        if (node) node.commitMs = ms;
      }
      return state;
    case 'stopped':
      state.stopped ??= { reason: event.reason };
      for (const node of state.ops.values()) {
        if (node.status !== 'succeeded' && node.status !== 'failed' && node.status !== 'cancelled') setStatus(state, node, 'cancelled');
      }
      return state;
  }
}

/** Keeps what was journaled of how an op ran. */
function record(node: OpNode, { attempts, startedAt, endedAt, miss, timings }: OpRecord): void {
  if (attempts !== undefined) node.attempts = attempts;
  if (startedAt !== undefined) node.startedAt = startedAt;
  if (endedAt !== undefined) node.endedAt = endedAt;
  if (miss !== undefined) node.miss = miss;
  if (timings !== undefined) node.timings = timings;
}

/** How an op is described to clients (`lzy status`). */
export function opInfo(node: OpNode): OpInfo {
  const info: OpInfo = {
    opId: node.spec.id,
    name: node.spec.name,
    state: node.status === 'succeeded' && node.cached ? 'cached' : node.status,
    attempts: node.attempts ?? 0,
  };
  if (node.startedAt !== undefined) info.startedAt = node.startedAt;
  if (node.endedAt !== undefined) info.endedAt = node.endedAt;
  if (node.miss !== undefined) info.miss = node.miss;
  const after = inputsOf(node.spec);
  if (after.length > 0) info.after = after;
  if (node.timings !== undefined) info.timings = node.timings;
  if (node.commitMs !== undefined) info.commitMs = node.commitMs;
  return info;
}

/** The ops whose results an op takes, each once. */
function inputsOf(spec: OpSpec): string[] {
  const ids = new Set<string>();
  for (const arg of spec.args) if (arg.kind === 'op') ids.add(arg.opId);
  return [...ids];
}

/** Ops whose inputs have all succeeded and that have not started. */
export function readyOps(state: GraphState, among: Iterable<string>): OpNode[] {
  if (state.stopped) return [];
  const ready: OpNode[] = [];
  for (const id of among) {
    const node = state.ops.get(id);
    if (node && node.status === 'waiting' && node.pending === 0) ready.push(node);
  }
  return ready;
}

/** Whether nothing runs or can still start: every op is done, or the graph stopped and nothing runs. */
export function isSettled(state: GraphState): boolean {
  const { waiting, queued, running } = state.counts;
  return queued + running === 0 && (waiting === 0 || state.stopped !== undefined);
}
