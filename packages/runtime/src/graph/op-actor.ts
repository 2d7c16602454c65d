import { spawnActor, stopActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { DataRef, OpFailure } from '@lzy/node-agent/protocol';
import { newId } from '../ids.js';
import type { OpSpec } from '../protocol/client.js';
import type { AttemptOutcome, AttemptRequest, SchedulerMsg } from '../scheduler/scheduler.js';
import type { CacheIndex } from './cache-index.js';

export type OpMsg =
  | { type: 'attempt-ended'; attemptId: string; outcome: AttemptOutcome }
  | { type: 'retry' }
  | { type: 'cancel' };

/** What an op actor reports to its graph, once. */
export type OpDone =
  | { type: 'op-done'; opId: string; ok: true; result: DataRef; cached: boolean }
  | { type: 'op-done'; opId: string; ok: false; failure: OpFailure; attempt: number };

/** How often an op is rerun after the node running it was lost, on top of its own retries. */
const NODE_LOSS_RETRIES = 3;

interface OpState {
  attempt: number;
  nodeLosses: number;
  attemptId: string | undefined;
  done: boolean;
}

export interface OpDeps {
  readonly spec: OpSpec;
  readonly args: DataRef[];
  readonly tenant: string;
  readonly workflowId: string;
  readonly pool: string;
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly cache: CacheIndex;
  readonly graph: ActorRef<OpDone>;
  readonly logs: AttemptRequest['logs'];
}

/** What starting an op gave: its result from the cache, or its actor and the first attempt to queue. */
export type OpStart = { cached: OpDone } | { actor: ActorRef<OpMsg>; attempt: AttemptRequest };

/**
 * Starts one operation: a cached result ends it at once, without an actor. Otherwise it becomes
 * an actor in flight that owns its attempts: the first is returned for the caller to queue (a
 * graph queues all it starts together), later ones it queues itself. It retries retryable
 * failures with backoff and reports the outcome to its graph once.
 */
export function startOp(parent: Parent, deps: OpDeps): OpStart {
  const { spec } = deps;
  const cacheKey = spec.cache && deps.cache.keyOf(spec, deps.args);
  const hit = cacheKey && deps.cache.get(deps.tenant, cacheKey);
  if (hit) return { cached: { type: 'op-done', opId: spec.id, ok: true, result: hit, cached: true } };
  const initial: OpState = { attempt: 0, nodeLosses: 0, attemptId: undefined, done: false };
  const actor = spawnActor<OpState, OpMsg>(parent, {
    initialState: () => initial,
    supervision: 'resume',
    receive: (state, msg, ctx) => {
      if (state.done) return state;
      switch (msg.type) {
        case 'retry':
          tell(deps.scheduler, { type: 'enqueue', attempts: [nextAttempt(state, ctx.self)] });
          return state;
        case 'attempt-ended': {
          if (msg.attemptId !== state.attemptId) return state;
          state.attemptId = undefined;
          const { outcome } = msg;
          if (outcome.ok) {
            if (cacheKey) deps.cache.put(deps.tenant, cacheKey, outcome.result);
            return finish(state, { type: 'op-done', opId: spec.id, ok: true, result: outcome.result, cached: false }, ctx.self);
          }
          const { failure } = outcome;
          const nodeLost = failure.code === 'NODE_LOST' && state.nodeLosses < NODE_LOSS_RETRIES;
          if (nodeLost) state.nodeLosses++;
          const retriesUsed = state.attempt - 1 - state.nodeLosses;
          if (failure.retryable && (nodeLost || retriesUsed < spec.retries.max)) {
            const delay = nodeLost ? 0 : spec.retries.backoffMs * 2 ** retriesUsed;
            tell(deps.logs, { type: 'op-retrying', opId: spec.id, opName: spec.name, attempt: state.attempt, failure, delayMs: delay });
            setTimeout(() => tell(ctx.self, { type: 'retry' }), delay);
            return state;
          }
          return finish(state, { type: 'op-done', opId: spec.id, ok: false, failure, attempt: state.attempt }, ctx.self);
        }
        case 'cancel':
          if (state.attemptId) tell(deps.scheduler, { type: 'cancel', attemptId: state.attemptId });
          state.done = true;
          stopActor(ctx.self);
          return state;
      }
    },
  });
  // The actor's state is `initial`: its first attempt is recorded there before any message arrives.
  return { actor, attempt: nextAttempt(initial, actor) };

  function nextAttempt(state: OpState, self: ActorRef<OpMsg>): AttemptRequest {
    state.attempt++;
    const attemptId = newId('at');
    state.attemptId = attemptId;
    const run: AttemptRequest['run'] = {
      attemptId,
      opName: `${spec.name}#${spec.id.slice(0, 8)}`,
      module: spec.module,
      exportName: spec.exportName,
      args: deps.args,
      env: spec.env,
    };
    if (spec.bundle !== undefined) run.bundle = spec.bundle;
    if (spec.timeoutMs !== undefined) run.timeoutMs = spec.timeoutMs;
    if (spec.memoryMb !== undefined) run.memoryMb = spec.memoryMb;
    return { attemptId, tenant: deps.tenant, workflowId: deps.workflowId, pool: deps.pool, run, op: self, logs: deps.logs, opId: spec.id, opName: spec.name };
  }

  function finish(state: OpState, done: OpDone, self: ActorRef<OpMsg>): OpState {
    state.done = true;
    tell(deps.graph, done);
    stopActor(self);
    return state;
  }
}
