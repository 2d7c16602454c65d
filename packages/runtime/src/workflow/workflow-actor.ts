import { query, spawnPersistentActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { DataRef } from '@lzy/node-agent/protocol';
import type { PoolConfig } from '../config.js';
import type { CacheIndex } from '../graph/cache-index.js';
import type { BlobHolds } from '../graph/blob-holds.js';
import { spawnGraph, type GraphDescription, type GraphMsg, type GraphNotice } from '../graph/graph-actor.js';
import type { LogStore } from '../logs/log-store.js';
import type { ArgSpec, OpSpec, WorkflowEvent, WorkflowEvents, WorkflowStatus } from '../protocol/client.js';
import { MAX_WHITEBOARD_FIELDS, type LogPage, type WhiteboardField, type WhiteboardRecord } from '../protocol/records.js';
import type { WhiteboardIndex } from '../whiteboard/whiteboard-index.js';
import { LogKeeper } from './log-keeper.js';
import type { Result } from '../result.js';
import type { OpNotice, SchedulerMsg } from '../scheduler/scheduler.js';
import { publishWorkflowChanged } from '../observe/events.js';
import { workflowJournalKey } from '../journal-keys.js';

export type WorkflowMsg =
  | { type: 'submit'; ops: OpSpec[]; replyTo: ActorRef<Result<{ added: number }>> }
  /** `result`: the workflow function's value, kept with the run for those who attach to it. */
  | { type: 'finish'; result?: DataRef; replyTo: ActorRef<Result<WorkflowStatus>> }
  | { type: 'cancel'; reason: string; replyTo: ActorRef<Result<WorkflowStatus>> }
  /** Adds a watcher: it hears the results so far, then everything that happens, until the run ends. */
  | { type: 'watch'; watcher: ActorRef<WorkflowEvents> }
  | { type: 'unwatch'; watcher: ActorRef<WorkflowEvents> }
  | { type: 'describe'; skip: number; limit: number; replyTo: ActorRef<Result<RunDescription>> }
  | { type: 'assign'; fields: WhiteboardField[]; replyTo: ActorRef<Result<null>> }
  /** Log entries after `afterSeq`; with none yet and the run active, the reply waits up to `waitMs` for some. */
  | { type: 'read-logs'; afterSeq: number; limit: number; waitMs: number; replyTo: ActorRef<Result<LogPage>> }
  | { type: 'logs-stored'; seq: number }
  | { type: 'resume' }
  | GraphNotice
  | OpNotice;

/** A run's end and its graph, as `describe` answers. */
export interface RunDescription extends GraphDescription {
  reason?: string;
}

type WorkflowEventJournaled =
  | { type: 'ended'; status: Exclude<WorkflowStatus, 'active'>; reason?: string; result?: DataRef }
  | { type: 'whiteboard-fields'; fields: WhiteboardField[] };

/** A whiteboard while its workflow runs. */
interface Whiteboard {
  readonly name: string;
  readonly tags: string[];
  readonly createdAt: number;
  readonly fields: Map<string, ArgSpec>;
}

interface WorkflowState {
  status: WorkflowStatus;
  reason?: string;
  /** The workflow function's value, once the client finished the run with it. */
  result?: DataRef;
  /** The value a `finish` brought, kept with the end once the graph settles. */
  pendingResult?: DataRef;
  /** The graph has nothing running or waiting. */
  settled: boolean;
  graph?: ActorRef<GraphMsg>;
  /** Everyone following the run: its own client, and any that attached. */
  readonly watchers: Set<ActorRef<WorkflowEvents>>;
  /** Finish calls waiting for the graph to settle. */
  finishing: Array<ActorRef<Result<WorkflowStatus>>>;
  readonly whiteboards: Map<string, Whiteboard>;
}

export interface WorkflowDeps {
  readonly workflowId: string;
  /** The run was just started: nothing of it, nor of its graph, is journaled yet. */
  readonly fresh: boolean;
  readonly name: string;
  readonly tenant: string;
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly cache: CacheIndex;
  readonly blobs: BlobHolds;
  readonly pools: Map<string, PoolConfig>;
  readonly logs: LogStore;
  readonly whiteboards: WhiteboardIndex;
  /**
   * The registry: writes the run's start to the run index, if not written yet. Called in the turn
   * the run hands its first ops to its graph, which journals them in the next turn, before lmdb
   * writes the writes of this one: one transaction for both.
   */
  readonly writeStart: () => void;
  /**
   * The registry: writes the run's start if not written yet, and its end to the run index and its storage's expiry. Called in the
   * turn the run journals its own end, so that all of it is one transaction.
   */
  readonly recordEnd: (status: Exclude<WorkflowStatus, 'active'>, endedAt: number) => void;
  /** The registry: hears when the workflow has ended (`endedAt` once `recordEnd` wrote it), before anyone else does. */
  readonly ended: (status: WorkflowStatus, endedAt?: number) => void;
  /** The registry: hears when the graph starts or stops having ops running or waiting. */
  readonly busy: (busy: boolean) => void;
}

/** How long finalizing may wait for the graph's results. */
const RESULTS_TIMEOUT_MS = 60_000;

/**
 * One workflow run: `active → finished | failed | cancelled`, journaled. It owns the workflow's
 * graph, forwards what happens to its watcher (the client), keeps its ops' output, records its
 * whiteboards' fields and finalizes them when the run succeeds, and ends the run when the client
 * finishes it, an op fails for good, or it is cancelled.
 */
export function spawnWorkflow(parent: Parent, deps: WorkflowDeps): ActorRef<WorkflowMsg> {
  let self: ActorRef<WorkflowMsg>;
  let logs: LogKeeper | undefined;
  const logKeeper = () => (logs ??= new LogKeeper(deps.workflowId, deps.logs, (seq) => tell(self, { type: 'logs-stored', seq })));
  /** The graph has never been spawned in a run just started: it has no journal to read, nor results to replay. */
  let freshGraph = deps.fresh;
  const graphOf = (state: WorkflowState): ActorRef<GraphMsg> => {
    const fresh = freshGraph;
    freshGraph = false;
    state.graph ??= spawnGraph(self as ActorRef<never>, {
      workflowId: deps.workflowId,
      fresh,
      tenant: deps.tenant,
      workflow: self as ActorRef<GraphNotice | OpNotice>,
      scheduler: deps.scheduler,
      cache: deps.cache,
      blobs: deps.blobs,
      pools: deps.pools,
    });
    return state.graph;
  };
  const emit = (state: WorkflowState, events: WorkflowEvent[]) => {
    for (const watcher of state.watchers) tell(watcher, events);
  };
  const endEvent = (state: WorkflowState): WorkflowEvent => {
    const event: WorkflowEvent = { type: 'workflow-ended', workflowId: deps.workflowId, status: state.status };
    if (state.reason !== undefined) event.reason = state.reason;
    if (state.result !== undefined) event.result = state.result;
    return event;
  };
  const end = async (
    state: WorkflowState,
    ctx: { persist(event: WorkflowEventJournaled): Promise<void> },
    status: Exclude<WorkflowStatus, 'active'>,
    reason?: string,
  ) => {
    if (status === 'finished' && state.whiteboards.size > 0) {
      const problem = await finalizeWhiteboards(state);
      if (problem) return end(state, ctx, 'failed', problem);
    }
    const ended: WorkflowEventJournaled = { type: 'ended', status };
    if (reason !== undefined) ended.reason = reason;
    if (status === 'finished' && state.pendingResult !== undefined) ended.result = state.pendingResult;
    // The graph's commit times not journaled yet go in the same transaction as the end.
    if (state.graph) tell(state.graph, { type: 'run-ends' });
    const endedAt = Date.now();
    deps.recordEnd(status, endedAt);
    await ctx.persist(ended);
    // The registry lists the run as ended before anyone hears of the end (its mailbox has this
    // first), so a listing right after (or after a restart) never shows a finished run as active.
    deps.ended(status, endedAt);
    publishWorkflowChanged({ tenant: deps.tenant, workflowId: deps.workflowId, name: deps.name, status, ...(reason === undefined ? {} : { reason }) });
    logs?.ended(status);
    emit(state, [endEvent(state)]);
    // Nothing follows the end of a run: its watchers go.
    state.watchers.clear();
    for (const waiter of state.finishing) tell(waiter, { ok: true, value: status });
    state.finishing = [];
  };

  /** Stores the run's whiteboards with their fields' values; returns what went wrong, if anything. */
  const finalizeWhiteboards = async (state: WorkflowState): Promise<string | undefined> => {
    const opIds = [...state.whiteboards.values()].flatMap((board) => [...board.fields.values()].flatMap((value) => (value.kind === 'op' ? [value.opId] : [])));
    const results =
      opIds.length === 0
        ? new Map<string, DataRef>()
        : await query<GraphMsg, Map<string, DataRef>>(graphOf(state), (replyTo) => ({ type: 'results', opIds, replyTo }), RESULTS_TIMEOUT_MS);
    const finalizedAt = Date.now();
    const records: WhiteboardRecord[] = [];
    for (const [id, board] of state.whiteboards) {
      const fields: Record<string, DataRef> = {};
      for (const [field, value] of board.fields) {
        const ref = value.kind === 'value' ? value.ref : results.get(value.opId);
        if (!ref) return `field ${field} of whiteboard ${board.name} takes the result of op ${value.kind === 'op' ? value.opId : '?'}, which has none`;
        fields[field] = ref;
      }
      const { name, tags, createdAt } = board;
      records.push({ id, name, tags, createdAt, finalizedAt, workflowId: deps.workflowId, workflowName: deps.name, fields });
    }
    await Promise.all(records.map((record) => deps.whiteboards.put(deps.tenant, record)));
    return undefined;
  };

  /** Adds a watcher: the results so far first, then the end (or what happens next: the mailbox waits for this). */
  const watch = async (state: WorkflowState, watcher: ActorRef<WorkflowEvents>) => {
    tell(watcher, await query<GraphMsg, WorkflowEvent[]>(graphOf(state), (replyTo) => ({ type: 'replay', replyTo }), RESULTS_TIMEOUT_MS));
    if (state.status !== 'active') tell(watcher, [endEvent(state)]);
    else state.watchers.add(watcher);
  };

  const describe = async (state: WorkflowState, msg: Extract<WorkflowMsg, { type: 'describe' }>) => {
    const graph = await query<GraphMsg, GraphDescription>(graphOf(state), (replyTo) => ({ type: 'describe', skip: msg.skip, limit: msg.limit, replyTo }), RESULTS_TIMEOUT_MS);
    tell(msg.replyTo, { ok: true, value: state.reason === undefined ? graph : { ...graph, reason: state.reason } });
  };

  self = spawnPersistentActor<WorkflowState, WorkflowMsg, WorkflowEventJournaled>(parent, {
    name: deps.workflowId,
    key: workflowJournalKey(deps.workflowId),
    fresh: deps.fresh,
    initialState: () => ({ status: 'active', settled: true, finishing: [], watchers: new Set(), whiteboards: new Map() }),
    apply: (state, event) => {
      if (event.type === 'whiteboard-fields') {
        for (const { whiteboardId, name, tags, createdAt, field, value } of event.fields) {
          let board = state.whiteboards.get(whiteboardId);
          if (!board) {
            board = { name, tags, createdAt, fields: new Map() };
            state.whiteboards.set(whiteboardId, board);
          }
          board.fields.set(field, value);
        }
        return state;
      }
      state.status = event.status;
      if (event.reason !== undefined) state.reason = event.reason;
      if (event.result !== undefined) state.result = event.result;
      return state;
    },
    supervision: 'restart',
    // Synchronous where it can be: a message that waits on nothing does not hold the mailbox a turn.
    command: (state, msg, ctx) => {
      switch (msg.type) {
        case 'submit':
          if (state.status !== 'active') {
            tell(msg.replyTo, { ok: false, error: { code: 'WORKFLOW_ENDED', message: `workflow ${deps.workflowId} is ${state.status}` } });
            return;
          }
          state.settled = false;
          deps.busy(true);
          tell(graphOf(state), msg);
          deps.writeStart();
          return;
        case 'finish':
          if (state.status !== 'active') {
            tell(msg.replyTo, { ok: true, value: state.status });
            return;
          }
          state.finishing.push(msg.replyTo);
          if (msg.result !== undefined) state.pendingResult = msg.result;
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
          // A run just started has nothing to replay: its client hears everything from here.
          if (freshGraph && state.status === 'active') return void state.watchers.add(msg.watcher);
          return watch(state, msg.watcher);
        case 'unwatch':
          state.watchers.delete(msg.watcher);
          return;
        case 'describe':
          return describe(state, msg);
        case 'resume':
          // Ended, but the runtime stopped before the registry journaled it: it hears it now.
          if (state.status !== 'active') return deps.ended(state.status);
          // Ops may run again: busy until the graph next settles.
          deps.busy(true);
          publishWorkflowChanged({ tenant: deps.tenant, workflowId: deps.workflowId, name: deps.name, status: 'active', resumed: true });
          tell(graphOf(state), { type: 'resume' });
          return;
        case 'graph-events':
          emit(state, msg.events);
          return;
        case 'op-log':
          emit(state, [{ ...msg, workflowId: deps.workflowId }]);
          logKeeper().keep(msg);
          return;
        case 'op-retrying':
          emit(state, [{ ...msg, workflowId: deps.workflowId }]);
          return;
        case 'logs-stored':
          logKeeper().stored(msg.seq);
          return;
        case 'read-logs':
          logKeeper().read(msg, state.status);
          return;
        case 'assign': {
          const problem = state.status !== 'active' ? `workflow ${deps.workflowId} is ${state.status}` : checkAssignment(state.whiteboards, msg.fields);
          if (problem) {
            tell(msg.replyTo, { ok: false, error: { code: 'BAD_WHITEBOARD', message: problem } });
            return;
          }
          return ctx.persist({ type: 'whiteboard-fields', fields: msg.fields }).then(() => tell(msg.replyTo, { ok: true, value: null }));
        }
        case 'graph-settled':
          state.settled = true;
          deps.busy(false);
          if (state.status !== 'active') return;
          if (msg.failure) return end(state, ctx, 'failed', msg.failure.reason);
          if (msg.cancelled) return end(state, ctx, 'cancelled', 'cancelled before the runtime restarted');
          if (state.finishing.length > 0) return end(state, ctx, 'finished');
          return;
      }
    },
  });
  return self;
}

/** Why `fields` cannot be assigned: a field assigned before, or a whiteboard that changes its name or tags. */
function checkAssignment(whiteboards: Map<string, Whiteboard>, fields: WhiteboardField[]): string | undefined {
  const seen = new Set<string>();
  for (const { whiteboardId, name, tags, field } of fields) {
    const board = whiteboards.get(whiteboardId);
    const key = `${whiteboardId}\u0000${field}`;
    if (board?.fields.has(field) || seen.has(key)) return `field ${field} of whiteboard ${name} is already assigned; a whiteboard's fields are assigned once`;
    seen.add(key);
    if (board && (board.name !== name || board.tags.join('\u0000') !== tags.join('\u0000'))) {
      return `whiteboard ${whiteboardId} is named ${board.name} with tags [${board.tags.join(', ')}]; its fields cannot change that`;
    }
    if ((board?.fields.size ?? 0) + fields.length > MAX_WHITEBOARD_FIELDS) return `whiteboard ${name} would have more than ${MAX_WHITEBOARD_FIELDS} fields`;
  }
  return undefined;
}
