import Denque from 'denque';
import { ask, spawnPersistentActor, stopActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { PoolConfig } from '../config.js';
import type { CacheIndex } from '../graph/cache-index.js';
import type { BlobHolds } from '../graph/blob-holds.js';
import { newId } from '../ids.js';
import type { LogStore } from '../logs/log-store.js';
import type { WhiteboardIndex } from '../whiteboard/whiteboard-index.js';
import type { WorkflowEvents, WorkflowStatus } from '../protocol/client.js';
import type { WorkflowInfo } from '../protocol/gateway.js';
import type { Result } from '../result.js';
import type { SchedulerMsg } from '../scheduler/scheduler.js';
import { spawnWorkflow, type WorkflowMsg } from './workflow-actor.js';
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
  | { type: 'list'; tenant: string; replyTo: ActorRef<WorkflowInfo[]> }
  /** From a run that has ended: answered once the registry has journaled it too. */
  | { type: 'ended'; workflowId: string; status: WorkflowStatus; replyTo: ActorRef<true> }
  | { type: 'resume' }
  /** From a run: whether its graph has ops running or waiting. */
  | { type: 'busy'; workflowId: string; busy: boolean }
  /** Answers once no run has ops running or waiting (at once if none has). */
  | { type: 'when-idle'; replyTo: ActorRef<true> }
  /** Runs that ended KEEP_ENDED_MS ago or more leave memory; each is loaded from the journal again when asked for. */
  | { type: 'retire-due' };

/**
 * How long an ended run stays in memory (its actors, its graph) for the calls that usually follow
 * its end; afterwards it is loaded again from the journal when asked for.
 */
const KEEP_ENDED_MS = 10_000;

/** How long a run waits for the registry to journal its end. */
const ENDED_TIMEOUT_MS = 30_000;

type WorkflowsEvent =
  | { type: 'started'; workflowId: string; tenant: string; name: string; startedAt: number }
  | { type: 'ended'; workflowId: string; status: WorkflowStatus; endedAt?: number };

interface Run {
  readonly tenant: string;
  readonly name: string;
  readonly startedAt: number;
  status: WorkflowStatus;
  endedAt?: number;
  ref?: ActorRef<WorkflowMsg>;
}

interface WorkflowsState {
  readonly runs: Map<string, Run>;
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
  const retireLater = (workflowId: string) => {
    retiring.push({ workflowId, at: Date.now() + KEEP_ENDED_MS });
    retireTimer ??= setTimeout(() => tell(self, { type: 'retire-due' }), KEEP_ENDED_MS).unref();
  };
  const retireDue = (state: WorkflowsState) => {
    retireTimer = undefined;
    const now = Date.now();
    for (let next = retiring.peekFront(); next && next.at <= now; next = retiring.peekFront()) {
      retiring.shift();
      const run = state.runs.get(next.workflowId);
      if (!run?.ref || run.status === 'active') continue;
      stopActor(run.ref as ActorRef<never>);
      delete run.ref;
    }
    const next = retiring.peekFront();
    if (next) retireTimer = setTimeout(() => tell(self, { type: 'retire-due' }), next.at - now).unref();
  };
  const refOf = (run: Run, workflowId: string): ActorRef<WorkflowMsg> => {
    run.ref ??= spawnWorkflow(self as ActorRef<never>, {
      workflowId,
      name: run.name,
      tenant: run.tenant,
      scheduler: deps.scheduler,
      cache: deps.cache,
      blobs: deps.blobs,
      pools: deps.pools,
      logs: deps.logs,
      whiteboards: deps.whiteboards,
      ended: (status) =>
        ask(self, { type: 'ended', workflowId, status }, ENDED_TIMEOUT_MS).then(
          () => undefined,
          () => undefined, // the runtime is stopping: the run tells again when it resumes
        ),
      busy: (isBusy) => tell(self, { type: 'busy', workflowId, busy: isBusy }),
    });
    return run.ref;
  };

  self = spawnPersistentActor<WorkflowsState, WorkflowsMsg, WorkflowsEvent>(parent, {
    name: 'workflows',
    key: 'workflows',
    initialState: () => ({ runs: new Map() }),
    apply: (state, event) => {
      if (event.type === 'started') {
        state.runs.set(event.workflowId, { tenant: event.tenant, name: event.name, startedAt: event.startedAt, status: 'active' });
      } else {
        const run = state.runs.get(event.workflowId);
        if (run) {
          run.status = event.status;
          if (event.endedAt !== undefined) run.endedAt = event.endedAt;
        }
      }
      return state;
    },
    supervision: 'restart',
    command: async (state, msg, ctx) => {
      switch (msg.type) {
        case 'start': {
          const workflowId = newId('wf');
          // Before the run exists: none of its values may land anywhere else.
          if (msg.storage) await deps.runStorages.register(msg.tenant, workflowId, msg.storage);
          // Answered without waiting for the disk: whatever of the run the client is told later (a
          // submission taken, a result, its end) is journaled after this in the same environment,
          // whose transactions reach the disk in order, so this start is on disk by then. A start
          // lost in a crash before anything else leaves a run the client is told is gone.
          void ctx.journal({ type: 'started', workflowId, tenant: msg.tenant, name: msg.name, startedAt: Date.now() }).catch(() => undefined);
          publishWorkflowChanged({ tenant: msg.tenant, workflowId, name: msg.name, status: 'active' });
          const ref = refOf(state.runs.get(workflowId)!, workflowId);
          tell(ref, { type: 'watch', watcher: msg.watcher });
          tell(msg.replyTo, { ok: true, value: { workflowId } });
          return;
        }
        case 'to': {
          const run = state.runs.get(msg.workflowId);
          // Another tenant's run is reported exactly like a missing one: its existence is not revealed.
          if (!run || run.tenant !== msg.tenant) {
            const inner = msg.msg;
            if ('replyTo' in inner) {
              tell(inner.replyTo as ActorRef<Result<never>>, {
                ok: false,
                error: { code: 'NOT_FOUND', message: `no workflow ${msg.workflowId}` },
              });
            }
            return;
          }
          tell(refOf(run, msg.workflowId), msg.msg);
          return;
        }
        case 'list': {
          const infos: WorkflowInfo[] = [];
          for (const [workflowId, run] of state.runs) {
            if (run.tenant === msg.tenant) infos.push(infoOf(workflowId, run));
          }
          tell(msg.replyTo, infos);
          return;
        }
        case 'info': {
          const run = state.runs.get(msg.workflowId);
          tell(msg.replyTo, run && run.tenant === msg.tenant ? infoOf(msg.workflowId, run) : undefined);
          return;
        }
        case 'ended': {
          setBusy(msg.workflowId, false);
          const run = state.runs.get(msg.workflowId);
          retireLater(msg.workflowId);
          if (!run || run.status === msg.status) {
            tell(msg.replyTo, true);
            return;
          }
          const endedAt = Date.now();
          // Answered once the listing says so, without waiting for the disk: the run's own journal
          // holds its end already, and a restart that lost this write resumes the run, which tells
          // its end again. Both writes go in one transaction (same turn, same environment).
          void ctx.journal({ type: 'ended', workflowId: msg.workflowId, status: msg.status, endedAt }).catch(() => undefined);
          void deps.expiry.ended(run.tenant, msg.workflowId, endedAt).catch(() => undefined);
          tell(msg.replyTo, true);
          return;
        }
        case 'retire-due':
          retireDue(state);
          return;
        case 'busy':
          setBusy(msg.workflowId, msg.busy && state.runs.get(msg.workflowId)?.status === 'active');
          return;
        case 'when-idle':
          if (busy.size === 0) tell(msg.replyTo, true);
          else idleWaiters.push(msg.replyTo);
          return;
        case 'resume': {
          const ended: Array<{ tenant: string; workflowId: string; endedAt: number }> = [];
          for (const [workflowId, run] of state.runs) {
            if (run.status === 'active') tell(refOf(run, workflowId), { type: 'resume' });
            else if (run.endedAt !== undefined) ended.push({ tenant: run.tenant, workflowId, endedAt: run.endedAt });
          }
          await deps.expiry.reconcile(ended);
          return;
        }
      }
    },
  });
  return self;
}

function infoOf(workflowId: string, run: Run): WorkflowInfo {
  const info: WorkflowInfo = { workflowId, name: run.name, status: run.status, startedAt: run.startedAt };
  if (run.endedAt !== undefined) info.endedAt = run.endedAt;
  return info;
}
