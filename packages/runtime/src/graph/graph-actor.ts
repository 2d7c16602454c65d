import Denque from 'denque';
import { spawnPersistentActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { DataRef } from '@lzy/node-agent/protocol';
import type { PoolConfig } from '../config.js';
import type { OpCounts, OpInfo, OpSpec, WorkflowEvent } from '../protocol/client.js';
import type { Result } from '../result.js';
import type { OpNotice, SchedulerMsg } from '../scheduler/scheduler.js';
import type { CacheIndex } from './cache-index.js';
import { goneBlobsProblem, storedUris, type BlobHolds } from './blob-holds.js';
import {
  applyGraphEvent,
  setStatus,
  emptyGraph,
  isSettled,
  opInfo,
  readyOps,
  validateSubmission,
  type GraphEvent,
  type GraphState,
  type OpNode,
  type OpSuccess,
} from './graph-state.js';
import { graphJournalForm } from './graph-journal-form.js';
import { opEnded, publishJournalCommitted, publishOpEnded } from '../observe/events.js';
import { startOp, type GraphOps, type OpDone, type OpMsg } from './op-actor.js';
import type { AttemptRequest, OpsRunning } from '../scheduler/scheduler.js';
import { graphJournalKey } from '../journal-keys.js';

export type GraphMsg =
  | { type: 'submit'; ops: OpSpec[]; replyTo: ActorRef<Result<{ added: number }>> }
  | OpDone
  | OpsRunning
  | { type: 'cancel'; reason: string }
  | { type: 'resume' }
  /** The results so far and the progress, as events for a new watcher. */
  | { type: 'replay'; replyTo: ActorRef<WorkflowEvent[]> }
  | { type: 'journal-successes' }
  /** Journals the commit times not journaled yet, when no other write will carry them. */
  | { type: 'journal-commits' }
  /**
   * The run ends (its end is journaled in this turn): the commit times the graph holds go with it,
   * in the same transaction, and those measured later at once. Until then a settled graph holds
   * them, not to write a transaction of its own (and wait a flush) between its last success and
   * the run's end.
   */
  | { type: 'run-ends' }
  /** Starts the next chunk of ready ops. */
  | { type: 'start-more' }
  /** The results of these ops, for those that succeeded. */
  | { type: 'results'; opIds: string[]; replyTo: ActorRef<Map<string, DataRef>> }
  /** The counts and the ops from the `skip`-th on (at most `limit`), in the order they were submitted. */
  | { type: 'describe'; skip: number; limit: number; replyTo: ActorRef<GraphDescription> };

/** A graph as `describe` answers: its counts and a page of its ops. */
export interface GraphDescription {
  counts: OpCounts;
  ops: OpInfo[];
  more: boolean;
}

/** What a graph tells its workflow. */
export type GraphNotice =
  | { type: 'graph-events'; events: WorkflowEvent[] }
  | { type: 'graph-settled'; failure?: { opId: string; reason: string } | undefined; cancelled: boolean };

export interface GraphDeps {
  readonly workflowId: string;
  /** Nothing of the graph is journaled yet (its run was just started). */
  readonly fresh: boolean;
  readonly tenant: string;
  /** The workflow: hears the graph's notices and its ops' output and retries. */
  readonly workflow: ActorRef<GraphNotice | OpNotice>;
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly cache: CacheIndex;
  /** The tenant's stored blobs: the ones a submission refers to are held by the run. */
  readonly blobs: BlobHolds;
  readonly pools: Map<string, PoolConfig>;
}

/** Most ops a graph starts in one turn. */
const START_CHUNK = 1024;

/**
 * The graph executor of one workflow, event-sourced: it journals the ops submitted and each op's
 * final outcome, starts an op actor for every op whose inputs are ready, and stops everything on
 * the first op that fails for good. A succeeded op is never run again, even after a restart: on
 * replay only the ops without a journaled outcome are started again.
 */
export function spawnGraph(parent: Parent, deps: GraphDeps): ActorRef<GraphMsg> {
  const opActors = new Map<string, ActorRef<OpMsg>>();
  /** Successes not journaled yet: those that arrive together are journaled as one event. */
  let successes: OpSuccess[] = [];
  /**
   * Group commit: while one batch of successes is on its way to disk, the next ones gather, and
   * go as one event when it is durable. Idle, a success is journaled at once; under load, each
   * disk write carries many.
   */
  let writing = false;
  /** When the graph heard each outcome not yet journaled (performance.now()): its commit time runs from there until it is durable. */
  const heardAt = new Map<string, number>();
  /** Commit times measured and not journaled yet: they go with the graph's next write. */
  let commits: Array<[opId: string, ms: number]> = [];
  /** The run has ended: no later write of the graph will carry the commit times. */
  let runEnded = false;
  const defaultPool = [...deps.pools.keys()][0]!;
  let self: ActorRef<GraphMsg>;
  /** Ready ops marked queued whose actors start in a later turn (see START_CHUNK). */
  const toStart = new Denque<OpNode>();
  let startScheduled = false;
  /** What the graph's op actors share (set once the graph is spawned, before its first message). */
  let ops: GraphOps;

  /**
   * Starts ops whose inputs are ready; their first attempts are queued with the scheduler together.
   * A large batch starts START_CHUNK ops per turn, so the first attempts are on their way to
   * nodes while the graph still spawns the others.
   */
  const start = (state: GraphState, nodes: OpNode[]) => {
    for (let i = 0; i < nodes.length; i++) {
      setStatus(state, nodes[i]!, 'queued');
      toStart.push(nodes[i]!);
    }
    startChunk(state);
  };

  const startChunk = (state: GraphState) => {
    const attempts: AttemptRequest[] = [];
    const misses: WorkflowEvent[] = [];
    const count = Math.min(START_CHUNK, toStart.length);
    for (let i = 0; i < count; i++) {
      const node = toStart.shift()!;
      const args: DataRef[] = node.spec.args.map((arg) => (arg.kind === 'value' ? arg.ref : state.ops.get(arg.opId)!.result!));
      const started = startOp(self as ActorRef<never>, ops, { spec: node.spec, args, pool: node.spec.pool ?? defaultPool });
      if ('cached' in started) {
        node.startedAt = Date.now();
        tell(self, started.cached);
        continue;
      }
      opActors.set(node.spec.id, started.actor);
      attempts.push(started.attempt);
      if (started.miss) {
        node.miss = started.miss;
        misses.push({ type: 'op-cache-miss', workflowId: deps.workflowId, opId: node.spec.id, opName: node.spec.name, miss: started.miss });
      }
    }
    if (attempts.length > 0) tell(deps.scheduler, { type: 'enqueue', attempts });
    if (misses.length > 0) tell(deps.workflow, { type: 'graph-events', events: misses });
    if (toStart.length > 0 && !startScheduled) {
      startScheduled = true;
      setImmediate(() => tell(self, { type: 'start-more' }));
    }
  };

  const stopAll = () => {
    toStart.clear();
    for (const op of opActors.values()) tell(op, { type: 'cancel' });
    opActors.clear();
  };

  const notify = (durable: Promise<void>, notices: GraphNotice[]) =>
    durable.then(
      () => notices.forEach((notice) => tell(deps.workflow, notice)),
      (error: unknown) => tell(self, { type: 'cancel', reason: `the journal failed: ${(error as Error).message}` }),
    );

  /** Journals the pending successes as one event, starts the ops they made ready, and tells the workflow once durable. */
  const journalSuccesses = (state: GraphState, ctx: { journal(event: GraphEvent): Promise<void> }, force = false) => {
    if (writing && !force) return;
    const results = successes.filter(({ opId }) => state.ops.get(opId)?.status !== 'succeeded');
    successes = [];
    if (results.length === 0) return;
    journalCommits(ctx);
    const writtenAt = performance.now();
    const durable = ctx.journal({ type: 'ops-succeeded', results });
    const committed = results.map(({ opId }) => state.ops.get(opId)!);
    void durable.then(() => {
      publishJournalCommitted({ ms: performance.now() - writtenAt });
      noteCommitted(committed);
    }, () => {});
    writing = true;
    void durable.finally(() => {
      writing = false;
      tell(self, { type: successes.length > 0 ? 'journal-successes' : 'journal-commits' });
    });
    const events: WorkflowEvent[] = [];
    for (const { opId, result, cached } of results) {
      const { dependents } = state.ops.get(opId)!;
      // Dependents start now, while the success is on its way to the disk, not once it is there:
      // a chain does not wait a flush per step. Nothing outside hears of the success (nor of any
      // dependent's, journaled after it in the same environment, whose writes reach the disk in
      // order) before it is durable. A crash before then loses the success and what followed it:
      // the op runs again after the restart, like an op cut off while it ran, and so do its
      // dependents, from its new result; none of it was ever acknowledged.
      if (dependents) start(state, readyOps(state, dependents));
      events.push({ type: 'op-succeeded', workflowId: deps.workflowId, opId, result, cached });
    }
    events.push({ type: 'progress', workflowId: deps.workflowId, counts: { ...state.counts } });
    const notices: GraphNotice[] = [{ type: 'graph-events', events }];
    if (isSettled(state)) notices.push({ type: 'graph-settled', cancelled: false });
    void notify(durable, notices);
  };

  /** Journals the commit times measured since the last write, ahead of the write at hand (in the same transaction). */
  const journalCommits = (ctx: { journal(event: GraphEvent): Promise<void> }) => {
    if (commits.length === 0) return;
    void ctx.journal({ type: 'ops-committed', commits }).catch(() => {});
    commits = [];
  };

  /** Keeps how long the outcomes of `nodes` took to be journaled, now that they are. */
  const noteCommitted = (nodes: OpNode[]) => {
    const now = performance.now();
    for (const node of nodes) {
      const heard = heardAt.get(node.spec.id);
      if (heard === undefined) continue;
      heardAt.delete(node.spec.id);
      node.commitMs = now - heard;
      commits.push([node.spec.id, node.commitMs]);
      if (!opEnded.hasSubscribers) continue;
      const state = node.status === 'failed' ? 'failed' : node.cached ? 'cached' : 'succeeded';
      publishOpEnded({ tenant: deps.tenant, workflowId: deps.workflowId, opId: node.spec.id, opName: node.spec.name, state, attempts: node.attempts ?? 0, commitMs: node.commitMs });
    }
  };

  /** Tells who watches the runtime which ops a stop of the graph cancelled, once it is journaled. */
  const noteCancelled = (state: GraphState) => {
    if (!opEnded.hasSubscribers) return;
    for (const node of state.ops.values()) {
      if (node.status !== 'cancelled') continue;
      publishOpEnded({ tenant: deps.tenant, workflowId: deps.workflowId, opId: node.spec.id, opName: node.spec.name, state: 'cancelled', attempts: node.attempts ?? 0 });
    }
  };

  self = spawnPersistentActor<GraphState, GraphMsg, GraphEvent>(parent, {
    name: 'graph',
    key: graphJournalKey(deps.workflowId),
    fresh: deps.fresh,
    initialState: () => {
      opActors.clear();
      toStart.clear();
      successes = [];
      writing = false;
      heardAt.clear();
      commits = [];
      runEnded = false;
      return emptyGraph();
    },
    apply: applyGraphEvent,
    journalForm: graphJournalForm,
    supervision: 'restart',
    command: (state, msg, ctx) => {
      switch (msg.type) {
        case 'submit': {
          const problem = checkPools(msg.ops, deps.pools);
          const checked = problem ? { error: problem } : validateSubmission(state, msg.ops);
          const uris = 'error' in checked ? [] : storedUris(checked.add);
          const gone = goneBlobsProblem(uris.filter((uri) => !deps.blobs.has(deps.tenant, uri)));
          if ('error' in checked || gone || checked.add.length === 0) {
            tell(
              msg.replyTo,
              'error' in checked
                ? { ok: false, error: { code: 'BAD_GRAPH', message: checked.error } }
                : gone
                  ? { ok: false, error: { code: 'BLOB_EXPIRED', message: gone } }
                  : { ok: true, value: { added: 0 } },
            );
            // The workflow waits for a settled notice after each submission.
            if (isSettled(state)) tell(deps.workflow, { type: 'graph-settled', cancelled: false });
            return;
          }
          // Held before the ops are journaled, in the same environment: a journaled op's stored inputs and bundle stay while its run's values do.
          if (uris.length > 0) void deps.blobs.hold(deps.tenant, deps.workflowId, uris).catch(() => undefined);
          const durable = ctx.journal({ type: 'ops-added', ops: checked.add });
          start(
            state,
            readyOps(
              state,
              checked.add.map((op) => op.id),
            ),
          );
          durable.then(
            () => tell(msg.replyTo, { ok: true, value: { added: checked.add.length } }),
            (error: unknown) => tell(msg.replyTo, { ok: false, error: { code: 'JOURNAL_FAILED', message: (error as Error).message } }),
          );
          return;
        }
        case 'ops-running': {
          for (const opId of msg.opIds) {
            const node = state.ops.get(opId);
            if (node?.status !== 'queued') continue;
            setStatus(state, node, 'running');
            node.startedAt ??= msg.at;
          }
          tell(deps.workflow, { type: 'graph-events', events: [{ type: 'progress', workflowId: deps.workflowId, counts: { ...state.counts } }] });
          return;
        }
        case 'op-requeued': {
          const node = state.ops.get(msg.opId);
          if (node?.status === 'running') setStatus(state, node, 'queued');
          return;
        }
        case 'op-done': {
          opActors.delete(msg.opId);
          const node = state.ops.get(msg.opId);
          if (!node || state.stopped || node.status === 'succeeded') return;
          const endedAt = Date.now();
          heardAt.set(msg.opId, performance.now());
          const how = { startedAt: node.startedAt ?? endedAt, endedAt, ...(node.miss ? { miss: node.miss } : {}), ...(msg.timings ? { timings: msg.timings } : {}) };
          if (msg.ok) {
            // Journaled with the other successes already in the mailbox, after them.
            if (successes.length === 0) tell(self, { type: 'journal-successes' });
            successes.push({ opId: msg.opId, result: msg.result, cached: msg.cached, attempts: msg.attempts, ...how });
            return;
          }
          journalSuccesses(state, ctx, true);
          journalCommits(ctx);
          void ctx.journal({ type: 'op-failed', opId: msg.opId, failure: msg.failure, attempt: msg.attempt, ...how }).then(() => {
            noteCommitted([node]);
            tell(self, { type: 'journal-commits' });
          }, () => {});
          const durable = ctx.journal({ type: 'stopped', reason: `op ${node.spec.name} failed` });
          void durable.then(() => noteCancelled(state), () => {});
          stopAll();
          void notify(durable, [
            {
              type: 'graph-events',
              events: [
                {
                  type: 'op-failed',
                  workflowId: deps.workflowId,
                  opId: msg.opId,
                  opName: node.spec.name,
                  attempt: msg.attempt,
                  failure: msg.failure,
                },
              ],
            },
            { type: 'graph-settled', failure: { opId: msg.opId, reason: state.stopped!.reason }, cancelled: false },
          ]);
          return;
        }
        case 'journal-successes':
          journalSuccesses(state, ctx);
          return;
        case 'journal-commits':
          // While the run goes on, its next write (the graph's or the run's end) carries them.
          if (!writing && runEnded) journalCommits(ctx);
          return;
        case 'run-ends':
          runEnded = true;
          if (!writing) journalCommits(ctx);
          return;
        case 'start-more':
          startScheduled = false;
          if (!state.stopped && toStart.length > 0) startChunk(state);
          return;
        case 'cancel': {
          if (state.stopped) return;
          journalSuccesses(state, ctx, true);
          journalCommits(ctx);
          const durable = ctx.journal({ type: 'stopped', reason: msg.reason });
          void durable.then(() => noteCancelled(state), () => {});
          stopAll();
          void notify(durable, [{ type: 'graph-settled', cancelled: true }]);
          return;
        }
        case 'resume': {
          if (!state.stopped) {
            start(state, readyOps(state, state.ops.keys()));
            return;
          }
          // Stopped before the runtime went down (nothing runs after a restart): the workflow may not have ended yet.
          const { failedOp, reason } = state.stopped;
          tell(deps.workflow, { type: 'graph-settled', failure: failedOp ? { opId: failedOp, reason } : undefined, cancelled: !failedOp });
          return;
        }
        case 'describe': {
          const page: OpInfo[] = [];
          let index = 0;
          for (const node of state.ops.values()) {
            if (index++ < msg.skip) continue;
            if (page.length === msg.limit) break;
            page.push(opInfo(node));
          }
          tell(msg.replyTo, { counts: { ...state.counts }, ops: page, more: msg.skip + page.length < state.ops.size });
          return;
        }
        case 'results': {
          const results = new Map<string, DataRef>();
          for (const opId of msg.opIds) {
            const result = state.ops.get(opId)?.result;
            if (result) results.set(opId, result);
          }
          tell(msg.replyTo, results);
          return;
        }
        case 'replay': {
          const events: WorkflowEvent[] = [];
          for (const [opId, node] of state.ops) {
            if (node.status === 'succeeded') {
              events.push({ type: 'op-succeeded', workflowId: deps.workflowId, opId, result: node.result!, cached: node.cached ?? false });
            } else if (node.failure) {
              const { failure, attempt } = node.failure;
              events.push({ type: 'op-failed', workflowId: deps.workflowId, opId, opName: node.spec.name, attempt, failure });
            }
          }
          events.push({ type: 'progress', workflowId: deps.workflowId, counts: { ...state.counts } });
          tell(msg.replyTo, events);
          return;
        }
      }
    },
  });
  ops = { tenant: deps.tenant, workflowId: deps.workflowId, scheduler: deps.scheduler, cache: deps.cache, blobs: deps.blobs, graph: self as ActorRef<OpDone | OpsRunning>, logs: deps.workflow };
  return self;
}

/** Every op must fit a configured pool: its pool must exist and be large enough. */
function checkPools(ops: OpSpec[], pools: Map<string, PoolConfig>): string | undefined {
  const defaultPool = [...pools.keys()][0]!;
  for (const op of ops) {
    const name = op.pool ?? defaultPool;
    const pool = pools.get(name);
    if (!pool) return `op ${op.name} asks for pool ${name}, which does not exist; pools: ${[...pools.keys()].join(', ')}`;
    if (op.cpu !== undefined && op.cpu > pool.cpu) return `op ${op.name} asks for ${op.cpu} cpu; nodes of pool ${name} have ${pool.cpu}`;
    if (op.memoryMb !== undefined && op.memoryMb > pool.memoryMb) {
      return `op ${op.name} asks for ${op.memoryMb} MiB; nodes of pool ${name} have ${pool.memoryMb} MiB`;
    }
  }
  return undefined;
}
