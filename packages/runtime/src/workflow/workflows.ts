import Denque from 'denque';
import { spawnActor, stopActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { PoolConfig } from '../config.js';
import type { CacheIndex } from '../graph/cache-index.js';
import type { BlobHolds } from '../graph/blob-holds.js';
import { newId } from '../ids.js';
import type { LogStore } from '../logs/log-store.js';
import type { WhiteboardIndex } from '../whiteboard/whiteboard-index.js';
import type { WorkflowEvents, WorkflowStatus } from '../protocol/client.js';
import type { RunPage, WorkflowInfo } from '../protocol/gateway.js';
import type { Result } from '../result.js';
import type { SchedulerMsg } from '../scheduler/scheduler.js';
import { spawnWorkflow, type WorkflowMsg } from './workflow-actor.js';
import { infoOf, type RunIndex, type RunRecord } from './run-index.js';
import type { RunArchive } from './run-archive.js';
import { publishWorkflowChanged } from '../observe/events.js';
import type { OwnStorage, RunStorages } from '../storage/run-storages.js';
import type { TempExpiry } from '../storage/temp-expiry.js';

export type { WorkflowInfo };

/** Requests to the workflow service; `tenant` is always the caller's verified tenant. */
export type WorkflowsMsg =
  | { type: 'start'; tenant: string; name: string; watcher: ActorRef<WorkflowEvents>; storage?: OwnStorage; replyTo: ActorRef<Result<{ workflowId: string }>> }
  | { type: 'to'; tenant: string; workflowId: string; msg: Exclude<WorkflowMsg, { type: 'graph-events' | 'graph-settled' | 'op-log' | 'op-retrying' | 'logs-stored' | 'resume' }> }
  /** The run with its listing, if it is the tenant's. */
  | { type: 'info'; tenant: string; workflowId: string; replyTo: ActorRef<WorkflowInfo | undefined> }
  /** A page of the tenant's runs, newest first. */
  | { type: 'list'; tenant: string; skip: number; limit: number; replyTo: ActorRef<RunPage> }
  /** A page of every tenant's runs, newest first: the caller has checked that it is an admin's. */
  | { type: 'list-all-tenants'; skip: number; limit: number; replyTo: ActorRef<RunPage> }
  /**
   * From a run that has ended (at `endedAt` when the run wrote its end to the index itself). Told
   * before the run answers its client, so whatever the client asks next finds the run ended.
   */
  | { type: 'ended'; workflowId: string; status: WorkflowStatus; endedAt?: number }
  | { type: 'resume' }
  /** From a run: whether its graph has ops running or waiting. */
  | { type: 'busy'; workflowId: string; busy: boolean }
  /** Answers once no run has ops running or waiting (at once if none has). */
  | { type: 'when-idle'; replyTo: ActorRef<true> }
  /** How many runs memory holds (those active or just ended): flat however many ended before. */
  | { type: 'held'; replyTo: ActorRef<number> }
  /** Runs that ended KEEP_ENDED_MS ago or more leave memory (and those past the KEEP_ENDED_MAX that ended last, at once); each is loaded from the index and its journal again when asked for. */
  | { type: 'retire-due' };

/**
 * How long an ended run stays in memory (its actors, its graph) for the calls that usually follow
 * its end; afterwards it is loaded again from the journal when asked for.
 */
const KEEP_ENDED_MS = 10_000;

/**
 * The most ended runs held in memory at once: past it the runs that ended first leave at once, so
 * that what memory holds does not grow with the rate runs end at (a run held takes tens of KiB).
 */
export const KEEP_ENDED_MAX = 500;

/** A run the registry holds in memory: active, or ended and not retired yet. */
interface Run extends RunRecord {
  ref?: ActorRef<WorkflowMsg>;
}

export interface WorkflowsDeps {
  readonly scheduler: ActorRef<SchedulerMsg>;
  readonly cache: CacheIndex;
  /** The tenants' stored blobs: runs hold those they use. */
  readonly blobs: BlobHolds;
  readonly pools: Map<string, PoolConfig>;
  readonly logs: LogStore;
  readonly whiteboards: WhiteboardIndex;
  /** Where runs that name their own bucket keep their values. */
  readonly runStorages: RunStorages;
  /** Empties a run's temporary storage some time after it ended. */
  readonly expiry: TempExpiry;
  /** Every run, listed and looked up from disk: memory holds only the runs that are active or just ended. */
  readonly index: RunIndex;
  /** Where the journals of runs that ended go when they leave memory. */
  readonly archive: RunArchive;
}

/**
 * The workflow service: starts workflow runs, routes calls to them after checking that the
 * caller's tenant owns the run, lists them, and on a restart resumes every run still active.
 */
export function spawnWorkflows(parent: Parent, deps: WorkflowsDeps): ActorRef<WorkflowsMsg> {
  let self: ActorRef<WorkflowsMsg>;
  /** Runs with ops running or waiting, and who waits for there to be none: not journaled, rebuilt as runs resume. */
  const busy = new Set<string>();
  let idleWaiters: Array<ActorRef<true>> = [];
  const setBusy = (workflowId: string, isBusy: boolean) => {
    if (isBusy) busy.add(workflowId);
    else busy.delete(workflowId);
    if (busy.size > 0) return;
    idleWaiters.forEach((waiter) => tell(waiter, true));
    idleWaiters = [];
  };
  /** Ended runs in the order they ended, each with when it may leave memory: one timer for them all. */
  const retiring = new Denque<{ workflowId: string; at: number }>();
  let retireTimer: NodeJS.Timeout | undefined;
  /** The runs held in memory: those active, and those ended less than KEEP_ENDED_MS ago (or asked for since), at most KEEP_ENDED_MAX of them. */
  const runs = new Map<string, Run>();
  const retire = (workflowId: string) => {
    const run = runs.get(workflowId);
    if (!run || run.status === 'active') return;
    if (run.ref) stopActor(run.ref as ActorRef<never>);
    runs.delete(workflowId);
    deps.archive.add(workflowId);
  };
  const retireLater = (workflowId: string) => {
    retiring.push({ workflowId, at: Date.now() + KEEP_ENDED_MS });
    while (retiring.length > KEEP_ENDED_MAX) retire(retiring.shift()!.workflowId);
    retireTimer ??= setTimeout(() => tell(self, { type: 'retire-due' }), KEEP_ENDED_MS).unref();
  };
  const retireDue = () => {
    retireTimer = undefined;
    const now = Date.now();
    for (let next = retiring.peekFront(); next && next.at <= now; next = retiring.peekFront()) retire(retiring.shift()!.workflowId);
    const next = retiring.peekFront();
    if (next) retireTimer = setTimeout(() => tell(self, { type: 'retire-due' }), next.at - now).unref();
  };
  /** The run, from memory or else from the index (then held until it is retired again). */
  const runOf = (workflowId: string): Run | undefined => {
    const held = runs.get(workflowId);
    if (held) return held;
    const stored = deps.index.get(workflowId);
    if (!stored) return undefined;
    runs.set(workflowId, stored);
    if (stored.status !== 'active') retireLater(workflowId);
    return stored;
  };
  /** The run's actor, spawned if memory holds none; `fresh`: the run was just started, nothing of it is journaled. */
  const refOf = (run: Run, workflowId: string, fresh = false): ActorRef<WorkflowMsg> => {
    run.ref ??= spawnWorkflow(self as ActorRef<never>, {
      workflowId,
      fresh,
      name: run.name,
      tenant: run.tenant,
      scheduler: deps.scheduler,
      cache: deps.cache,
      blobs: deps.blobs,
      pools: deps.pools,
      logs: deps.logs,
      whiteboards: deps.whiteboards,
      writeStart: () => deps.index.started(workflowId),
      recordEnd: (status, endedAt) => {
        deps.index.started(workflowId);
        writeEnd(workflowId, { tenant: run.tenant, name: run.name, startedAt: run.startedAt, status }, endedAt);
      },
      ended: (status, endedAt) => tell(self, { type: 'ended', workflowId, status, ...(endedAt === undefined ? {} : { endedAt }) }),
      busy: (isBusy) => tell(self, { type: 'busy', workflowId, busy: isBusy }),
    });
    return run.ref;
  };
  const recordOf = ({ ref: _ref, ...record }: Run): RunRecord => record;
  /** Writes an ended run's listing and its storage's expiry, without waiting: both in this turn's transaction. */
  const writeEnd = (workflowId: string, ended: RunRecord, endedAt: number) => {
    void deps.index.ended(workflowId, { ...ended, endedAt }).catch(() => undefined);
    void deps.expiry.ended(ended.tenant, workflowId, endedAt).catch(() => undefined);
  };
  /** Starts run `workflowId` as `msg` asks: listed, its actor spawned fresh and watched by its client, who is answered. */
  const start = (msg: Extract<WorkflowsMsg, { type: 'start' }>, workflowId: string) => {
    const run: Run = { tenant: msg.tenant, name: msg.name, startedAt: Date.now(), status: 'active' };
    runs.set(workflowId, run);
    // Answered without waiting for the disk: whatever of the run the client is told later (a
    // submission taken, a result, its end) is journaled with or after the start in the same
    // environment, whose transactions reach the disk in order, so this start is on disk by then.
    // A start lost in a crash before anything else leaves a run the client is told is gone.
    deps.index.starting(workflowId, recordOf(run));
    publishWorkflowChanged({ tenant: msg.tenant, workflowId, name: msg.name, status: 'active' });
    tell(refOf(run, workflowId, true), { type: 'watch', watcher: msg.watcher });
    tell(msg.replyTo, { ok: true, value: { workflowId } });
  };

  self = spawnActor<null, WorkflowsMsg>(parent, {
    name: 'workflows',
    initialState: () => null,
    supervision: 'restart',
    // Synchronous but for a start with its own bucket and a resume: the mailbox is not held a turn per message.
    receive: (state, msg) => {
      switch (msg.type) {
        case 'start': {
          const workflowId = newId('wf');
          // Before the run exists: none of its values may land anywhere else.
          if (msg.storage) return deps.runStorages.register(msg.tenant, workflowId, msg.storage).then(() => (start(msg, workflowId), state));
          start(msg, workflowId);
          return state;
        }
        case 'to': {
          const run = runOf(msg.workflowId);
          // Another tenant's run is reported exactly like a missing one: its existence is not revealed.
          if (!run || run.tenant !== msg.tenant) {
            const inner = msg.msg;
            if ('replyTo' in inner) {
              tell(inner.replyTo as ActorRef<Result<never>>, {
                ok: false,
                error: { code: 'NOT_FOUND', message: `no workflow ${msg.workflowId}` },
              });
            }
            return state;
          }
          tell(refOf(run, msg.workflowId), msg.msg);
          return state;
        }
        case 'list':
          tell(msg.replyTo, deps.index.page(msg.tenant, msg.skip, msg.limit));
          return state;
        case 'list-all-tenants':
          tell(msg.replyTo, deps.index.pageOfAllTenants(msg.skip, msg.limit));
          return state;
        case 'info': {
          const run = runs.get(msg.workflowId) ?? deps.index.get(msg.workflowId);
          tell(msg.replyTo, run && run.tenant === msg.tenant ? infoOf(msg.workflowId, run) : undefined);
          return state;
        }
        case 'ended': {
          setBusy(msg.workflowId, false);
          const run = runOf(msg.workflowId);
          if (!run || run.status === msg.status) return state;
          retireLater(msg.workflowId);
          run.status = msg.status;
          if (msg.endedAt !== undefined) {
            // The run wrote its end to the index and its expiry in the transaction of its own end.
            run.endedAt = msg.endedAt;
            return state;
          }
          // A run resumed after a restart that lost this write: written without waiting for the
          // disk, as the run's own journal holds its end already, and a restart that loses this
          // write again resumes the run, which tells its end again. Both writes go in one
          // transaction (same turn, same environment).
          run.endedAt = Date.now();
          writeEnd(msg.workflowId, recordOf(run), run.endedAt);
          return state;
        }
        case 'retire-due':
          retireDue();
          return state;
        case 'busy':
          setBusy(msg.workflowId, msg.busy && runs.get(msg.workflowId)?.status === 'active');
          return state;
        case 'when-idle':
          if (busy.size === 0) tell(msg.replyTo, true);
          else idleWaiters.push(msg.replyTo);
          return state;
        case 'held':
          tell(msg.replyTo, runs.size);
          return state;
        case 'resume': {
          for (const [workflowId, stored] of deps.index.activeRuns()) {
            const run = runs.get(workflowId) ?? stored;
            runs.set(workflowId, run);
            tell(refOf(run, workflowId), { type: 'resume' });
          }
          // Runs that ended before the restart and were not archived yet: not live, so archived now.
          deps.archive.sweep((workflowId) => runs.has(workflowId));
          return state;
        }
      }
    },
  });
  return self;
}
