import { spawnActor, stopActor, tell, type ActorContext, type ActorRef, type Parent } from '@lzy/actors';
import type { DataRef, OpFailure } from '@lzy/node-agent/protocol';
import { newId } from '../ids.js';
import type { AttemptTimings, CacheMiss, OpSpec } from '../protocol/client.js';
import { attemptEnded, type AttemptEnded } from '../observe/events.js';
import type { AttemptPhases } from '../scheduler/attempt-phases.js';
import type { AttemptOutcome, AttemptRequest, OpsRunning, SchedulerMsg } from '../scheduler/scheduler.js';
import type { CacheIndex } from './cache-index.js';
import type { BlobHolds } from './blob-holds.js';

export type OpMsg =
  | { type: 'attempt-ended'; attemptId: string; outcome: AttemptOutcome; phases: AttemptPhases }
  | { type: 'retry' }
  | { type: 'cancel' };

/** What an op actor reports to its graph: once its outcome, and each time it queues another attempt. */
export type OpDone =
  | { type: 'op-done'; opId: string; ok: true; result: DataRef; cached: boolean; attempts: number; timings?: AttemptTimings[] }
  | { type: 'op-done'; opId: string; ok: false; failure: OpFailure; attempt: number; timings: AttemptTimings[] }
  | { type: 'op-requeued'; opId: string };

/** How often an op is rerun after the node running it was lost, on top of its own retries. */
const NODE_LOSS_RETRIES = 3;
/** The timings of an op's last attempts kept with it, however many it had. */
const KEPT_TIMINGS = 10;

/** What every op actor of one graph shares. */
export interface GraphOps {
  readonly tenant: string;
  readonly workflowId: string;
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly cache: CacheIndex;
  /** A cached result taken from an earlier run is held by this one too. */
  readonly blobs: BlobHolds;
  readonly graph: ActorRef<OpDone | OpsRunning>;
  readonly logs: AttemptRequest['logs'];
}

/** One op's call: what it runs, on which inputs, in which pool. */
export interface OpCall {
  readonly spec: OpSpec;
  readonly args: DataRef[];
  readonly pool: string;
}

/** An op actor's state: its call and the graph it belongs to, and where its attempts stand. */
interface OpState {
  readonly call: OpCall;
  readonly ops: GraphOps;
  /** Set for a cached op: where its result goes once it succeeds. */
  readonly cacheKey: string | undefined;
  attempt: number;
  nodeLosses: number;
  attemptId: string | undefined;
  done: boolean;
  /** Where its last attempts' time went. */
  readonly timings: AttemptTimings[];
}

/** What starting an op gave: its result from the cache, or its actor, the first attempt to queue, and why a cached op missed. */
export type OpStart = { cached: OpDone } | { actor: ActorRef<OpMsg>; attempt: AttemptRequest; miss?: CacheMiss };

/**
 * Starts one operation: a cached result ends it at once, without an actor. Otherwise it becomes
 * an actor in flight that owns its attempts: the first is returned for the caller to queue (a
 * graph queues all it starts together), later ones it queues itself. It retries retryable
 * failures with backoff and reports the outcome to its graph once.
 */
export function startOp(parent: Parent, ops: GraphOps, call: OpCall): OpStart {
  const { spec } = call;
  const cacheKey = spec.cache ? ops.cache.keyOf(spec, call.args) : undefined;
  const hit = cacheKey && ops.cache.get(ops.tenant, cacheKey);
  if (hit) {
    // Held before the graph journals the op's success: the result stays while this run's values do.
    if (hit.inline === undefined && hit.uri !== undefined) void ops.blobs.hold(ops.tenant, ops.workflowId, [hit.uri]).catch(() => undefined);
    return { cached: { type: 'op-done', opId: spec.id, ok: true, result: hit, cached: true, attempts: 0 } };
  }
  const state: OpState = { call, ops, cacheKey, attempt: 0, nodeLosses: 0, attemptId: undefined, done: false, timings: [] };
  // One handler for all op actors: everything an op needs is in its state.
  const actor = spawnActor<OpState, OpMsg>(parent, { initialState: () => state, supervision: 'resume', receive: receiveOp });
  // The actor's state is `state`: its first attempt is recorded there before any message arrives.
  const attempt = nextAttempt(state, actor);
  return cacheKey && spec.cache ? { actor, attempt, miss: ops.cache.explainMiss(ops.tenant, { ...spec, cache: spec.cache }, cacheKey) } : { actor, attempt };
}

function receiveOp(state: OpState, msg: OpMsg, ctx: ActorContext<OpMsg>): OpState {
  if (state.done) return state;
  const { call, ops } = state;
  const { spec } = call;
  switch (msg.type) {
    case 'retry':
      tell(ops.scheduler, { type: 'enqueue', attempts: [nextAttempt(state, ctx.self)] });
      tell(ops.graph, { type: 'op-requeued', opId: spec.id });
      return state;
    case 'attempt-ended': {
      if (msg.attemptId !== state.attemptId) return state;
      state.attemptId = undefined;
      const { outcome } = msg;
      if (state.timings.length === KEPT_TIMINGS) state.timings.shift();
      const timings: AttemptTimings = { attempt: state.attempt, ok: outcome.ok, ...msg.phases };
      state.timings.push(timings);
      if (attemptEnded.hasSubscribers) {
        const ended: AttemptEnded = { tenant: ops.tenant, workflowId: ops.workflowId, opId: spec.id, opName: spec.name, attemptId: msg.attemptId, timings };
        attemptEnded.publish(outcome.ok ? ended : { ...ended, code: outcome.failure.code });
      }
      if (outcome.ok) {
        if (state.cacheKey) ops.cache.put(ops.tenant, spec, state.cacheKey, outcome.result);
        return finish(state, { type: 'op-done', opId: spec.id, ok: true, result: outcome.result, cached: false, attempts: state.attempt, timings: state.timings }, ctx.self);
      }
      const { failure } = outcome;
      const nodeLost = failure.code === 'NODE_LOST' && state.nodeLosses < NODE_LOSS_RETRIES;
      if (nodeLost) state.nodeLosses++;
      const retriesUsed = state.attempt - 1 - state.nodeLosses;
      if (failure.retryable && (nodeLost || retriesUsed < spec.retries.max)) {
        const delay = nodeLost ? 0 : spec.retries.backoffMs * 2 ** retriesUsed;
        tell(ops.logs, { type: 'op-retrying', opId: spec.id, opName: spec.name, attempt: state.attempt, failure, delayMs: delay });
        setTimeout(() => tell(ctx.self, { type: 'retry' }), delay);
        return state;
      }
      if (state.cacheKey) ops.cache.putFailure(ops.tenant, spec, state.cacheKey);
      return finish(state, { type: 'op-done', opId: spec.id, ok: false, failure, attempt: state.attempt, timings: state.timings }, ctx.self);
    }
    case 'cancel':
      if (state.attemptId) tell(ops.scheduler, { type: 'cancel', attemptId: state.attemptId });
      state.done = true;
      stopActor(ctx.self);
      return state;
  }
}

function nextAttempt(state: OpState, self: ActorRef<OpMsg>): AttemptRequest {
  const { call, ops } = state;
  const { spec } = call;
  state.attempt++;
  const attemptId = newId('at');
  state.attemptId = attemptId;
  const run: AttemptRequest['run'] = {
    attemptId,
    tenant: ops.tenant,
    opName: `${spec.name}#${spec.id.slice(0, 8)}`,
    module: spec.module,
    exportName: spec.exportName,
    args: call.args,
    env: spec.env,
  };
  if (spec.bundle !== undefined) run.bundle = spec.bundle;
  if (spec.timeoutMs !== undefined) run.timeoutMs = spec.timeoutMs;
  if (spec.memoryMb !== undefined) run.memoryMb = spec.memoryMb;
  return {
    attemptId,
    tenant: ops.tenant,
    workflowId: ops.workflowId,
    pool: call.pool,
    run,
    op: self,
    logs: ops.logs,
    graph: ops.graph,
    opId: spec.id,
    opName: spec.name,
  };
}

function finish(state: OpState, done: OpDone, self: ActorRef<OpMsg>): OpState {
  state.done = true;
  tell(state.ops.graph, done);
  stopActor(self);
  return state;
}
