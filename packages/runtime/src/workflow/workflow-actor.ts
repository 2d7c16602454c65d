import { spawnPersistentActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { PoolConfig } from '../config.js';
import type { CacheIndex } from '../graph/cache-index.js';
import { spawnGraph, type GraphMsg, type GraphNotice } from '../graph/graph-actor.js';
import type { OpSpec, WorkflowEvent, WorkflowEvents, WorkflowStatus } from '../protocol/client.js';
import type { Result } from '../result.js';
import type { OpNotice, SchedulerMsg } from '../scheduler/scheduler.js';

export type WorkflowMsg =
  | { type: 'submit'; ops: OpSpec[]; replyTo: ActorRef<Result<{ added: number }>> }
  | { type: 'finish'; replyTo: ActorRef<Result<WorkflowStatus>> }
  | { type: 'cancel'; reason: string; replyTo: ActorRef<Result<WorkflowStatus>> }
  | { type: 'watch'; watcher: ActorRef<WorkflowEvents> }
  | { type: 'resume' }
  | GraphNotice
  | OpNotice;

type WorkflowEventJournaled = { type: 'ended'; status: Exclude<WorkflowStatus, 'active'>; reason?: string };

interface WorkflowState {
  status: WorkflowStatus;
  reason?: string;
  /** The graph has nothing running or waiting. */
  settled: boolean;
  graph?: ActorRef<GraphMsg>;
  watcher?: ActorRef<WorkflowEvents>;
  /** Finish calls waiting for the graph to settle. */
  finishing: Array<ActorRef<Result<WorkflowStatus>>>;
}

export interface WorkflowDeps {
  readonly workflowId: string;
  readonly tenant: string;
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly cache: CacheIndex;
  readonly pools: Map<string, PoolConfig>;
  /** The registry: hears when the workflow has ended; resolves once it has journaled that too. */
  readonly ended: (status: WorkflowStatus) => Promise<void>;
  /** The registry: hears when the graph starts or stops having ops running or waiting. */
  readonly busy: (busy: boolean) => void;
}

/**
 * One workflow run: `active → finished | failed | cancelled`, journaled. It owns the workflow's
 * graph, forwards what happens to its watcher (the client), and ends the run when the client
 * finishes it, an op fails for good, or it is cancelled.
 */
export function spawnWorkflow(parent: Parent, deps: WorkflowDeps): ActorRef<WorkflowMsg> {
  let self: ActorRef<WorkflowMsg>;
  const graphOf = (state: WorkflowState): ActorRef<GraphMsg> => {
    state.graph ??= spawnGraph(self as ActorRef<never>, {
      workflowId: deps.workflowId,
      tenant: deps.tenant,
      workflow: self as ActorRef<GraphNotice | OpNotice>,
      scheduler: deps.scheduler,
      cache: deps.cache,
      pools: deps.pools,
    });
    return state.graph;
  };
  const emit = (state: WorkflowState, events: WorkflowEvent[]) => {
    if (state.watcher) tell(state.watcher, events);
  };
  const end = async (
    state: WorkflowState,
    ctx: { persist(event: WorkflowEventJournaled): Promise<void> },
    status: Exclude<WorkflowStatus, 'active'>,
    reason?: string,
  ) => {
    await ctx.persist(reason === undefined ? { type: 'ended', status } : { type: 'ended', status, reason });
    const event: WorkflowEvent = { type: 'workflow-ended', workflowId: deps.workflowId, status };
    if (reason !== undefined) event.reason = reason;
    emit(state, [event]);
    // The registry lists the run as ended before its client hears `finish` answered, so a listing
    // right after (or after a restart) never shows a finished run as active.
    await deps.ended(status);
    for (const waiter of state.finishing) tell(waiter, { ok: true, value: status });
    state.finishing = [];
  };

  self = spawnPersistentActor<WorkflowState, WorkflowMsg, WorkflowEventJournaled>(parent, {
    name: deps.workflowId,
    key: `wf:${deps.workflowId}`,
    initialState: () => ({ status: 'active', settled: true, finishing: [] }),
    apply: (state, event) => {
      state.status = event.status;
      if (event.reason !== undefined) state.reason = event.reason;
      return state;
    },
    supervision: 'restart',
    command: async (state, msg, ctx) => {
      switch (msg.type) {
        case 'submit':
          if (state.status !== 'active') {
            tell(msg.replyTo, { ok: false, error: { code: 'WORKFLOW_ENDED', message: `workflow ${deps.workflowId} is ${state.status}` } });
            return;
          }
          state.settled = false;
          deps.busy(true);
          tell(graphOf(state), msg);
          return;
        case 'finish':
          if (state.status !== 'active') {
            tell(msg.replyTo, { ok: true, value: state.status });
            return;
          }
          state.finishing.push(msg.replyTo);
          if (state.settled) return end(state, ctx, 'finished');
          return;
        case 'cancel':
          if (state.status !== 'active') {
            tell(msg.replyTo, { ok: true, value: state.status });
            return;
          }
          tell(graphOf(state), { type: 'cancel', reason: msg.reason });
          return end(state, ctx, 'cancelled', msg.reason).then(() => tell(msg.replyTo, { ok: true, value: 'cancelled' }));
        case 'watch':
          state.watcher = msg.watcher;
          tell(graphOf(state), { type: 'replay' });
          if (state.status !== 'active') {
            const event: WorkflowEvent = { type: 'workflow-ended', workflowId: deps.workflowId, status: state.status };
            if (state.reason !== undefined) event.reason = state.reason;
            tell(msg.watcher, [event]);
          }
          return;
        case 'resume':
          // Ended, but the runtime stopped before the registry journaled it: it hears it now.
          if (state.status !== 'active') return void deps.ended(state.status);
          // Ops may run again: busy until the graph next settles.
          deps.busy(true);
          tell(graphOf(state), { type: 'resume' });
          return;
        case 'graph-events':
          emit(state, msg.events);
          return;
        case 'op-log':
        case 'op-retrying':
          emit(state, [{ ...msg, workflowId: deps.workflowId }]);
          return;
        case 'graph-settled':
          state.settled = true;
          deps.busy(false);
          if (state.status !== 'active') return;
          if (msg.failure) return end(state, ctx, 'failed', msg.failure.reason);
          if (state.finishing.length > 0) return end(state, ctx, 'finished');
          return;
      }
    },
  });
  return self;
}
