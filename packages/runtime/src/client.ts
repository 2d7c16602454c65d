import { ask, query, spawnActor, stopActor, tell, type ActorRef, type ActorSystem } from '@lzy/actors';
import { uriOf, type DataRef, type StoredRef } from '@lzy/node-agent/protocol';
import type { Subject } from './iam/iam.js';
import { authorize, type IamMsg } from './iam/iam-service.js';
import type { OpSpec, WorkflowEvent, WorkflowEvents, WorkflowStatus } from './protocol/client.js';
import { RuntimeError } from './protocol/errors.js';
import type { Result } from './result.js';
import type { BlobStore } from './storage/blob-store.js';
import type { OwnStorage, RunStorages } from './storage/run-storages.js';
import { MAX_LIST_RUNS, type RunPage, type WorkflowDetail } from './protocol/gateway.js';
import type { LogPage, WhiteboardField, WhiteboardQuery, WhiteboardRecord } from './protocol/records.js';
import type { WhiteboardIndex } from './whiteboard/whiteboard-index.js';
import type { WorkflowsMsg } from './workflow/workflows.js';
import type { RunDescription } from './workflow/workflow-actor.js';

type WorkflowToMsg = Extract<WorkflowsMsg, { type: 'to' }>['msg'];

export { RuntimeError };

/** What the starter of a run hears of it. */
export interface StartOptions {
  /** Whether it wants the run's `progress` events (op counts); default true. A starter that shows no counts passes false. */
  readonly progress?: boolean;
}

/** What a client (the SDK) can do with the runtime, as one verified tenant. */
export interface RuntimeConnection {
  readonly tenant: string;
  /**
   * Starts run `name`, whose values go to `storage` when given (else the runtime's store); `onEvent`
   * hears its events. With `options.progress` false it need not hear the `progress` ones: a remote
   * connection asks the runtime not to send them.
   */
  startWorkflow(name: string, onEvent: (event: WorkflowEvent) => void, storage?: OwnStorage, options?: StartOptions): Promise<string>;
  /** Adds ops to the run's graph; resolves once they are journaled. */
  submit(workflowId: string, ops: OpSpec[]): Promise<void>;
  /**
   * Waits until nothing runs or waits, then ends the run as finished, keeping `result` (the
   * workflow function's value) for those who attach to it.
   */
  finish(workflowId: string, result?: DataRef): Promise<WorkflowStatus>;
  cancel(workflowId: string, reason: string): Promise<WorkflowStatus>;
  /**
   * Attaches `onEvent` to an existing run, beside any other watcher of it: replays the results so
   * far, then follows it until it ends. The returned function stops following it.
   */
  watch(workflowId: string, onEvent: (event: WorkflowEvent) => void): () => void;
  /** The tenant's runs newest first, from the `skip`-th on (at most `limit`, default and most `MAX_LIST_RUNS`), and how many older ones follow. */
  list(skip?: number, limit?: number): Promise<RunPage>;
  /** Every tenant's runs newest first, each with its tenant, paged as `list`: an admin's only, else `FORBIDDEN`. */
  listAllTenants(skip?: number, limit?: number): Promise<RunPage>;
  /** The run and its ops from the `skipOps`-th on (at most `limitOps`); `NOT_FOUND` for another tenant's. */
  describe(workflowId: string, skipOps: number, limitOps: number): Promise<WorkflowDetail>;
  /** Records fields of the run's whiteboards; they are stored for good when the run succeeds. */
  assign(workflowId: string, fields: WhiteboardField[]): Promise<void>;
  /** The tenant's finalized whiteboards that match `query`, newest first. */
  whiteboards(query: WhiteboardQuery): Promise<WhiteboardRecord[]>;
  /**
   * The run's op output after entry `afterSeq` (at most `limit` entries); when there is none yet
   * and the run is active, waits up to `waitMs` for some.
   */
  logs(workflowId: string, afterSeq: number, limit: number, waitMs: number): Promise<LogPage>;
  /** Stores `bytes` as a value of run `workflowId` (an argument, a bundle, a result). */
  putBlob(workflowId: string, bytes: Buffer): Promise<StoredRef>;
  getBlob(ref: DataRef): Promise<Buffer>;
  /** Up to `length` bytes of the stored blob `uri` from `offset` (fewer at its end): a large value read piece by piece. */
  readBlob(uri: string, offset: number, length: number): Promise<Uint8Array>;
  /** Stops following runs and lets go of the runtime; a remote connection's promise settles once it is closed. */
  close(): void | Promise<void>;
}

const CALL_TIMEOUT_MS = 120_000;

function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new RuntimeError(result.error.code, result.error.message);
  return result.value;
}

/** The runtime's services a connection inside its process talks to. */
export interface LocalServices {
  readonly system: ActorSystem;
  readonly workflows: ActorRef<WorkflowsMsg>;
  readonly store: BlobStore;
  readonly runStorages: RunStorages;
  readonly whiteboards: WhiteboardIndex;
  /** Decides the calls only an admin may make. */
  readonly iam: ActorRef<IamMsg>;
}

/** A connection inside the runtime's own process (the embedded runtime). */
export class LocalConnection implements RuntimeConnection {
  /** Each watcher and the run it follows. */
  private readonly watchers = new Map<ActorRef<WorkflowEvents>, string>();
  private readonly system: ActorSystem;
  private readonly workflows: ActorRef<WorkflowsMsg>;
  private readonly store: BlobStore;
  private readonly runStorages: RunStorages;
  private readonly whiteboardIndex: WhiteboardIndex;
  private readonly iam: ActorRef<IamMsg>;

  constructor(
    private readonly subject: Subject,
    services: LocalServices,
  ) {
    ({ system: this.system, workflows: this.workflows, store: this.store, whiteboards: this.whiteboardIndex, runStorages: this.runStorages, iam: this.iam } = services);
  }

  get tenant(): string {
    return this.subject.tenant;
  }

  private watcher(onEvent: (event: WorkflowEvent) => void, workflowId = ''): ActorRef<WorkflowEvents> {
    const ref = spawnActor<undefined, WorkflowEvents>(this.system, {
      initialState: () => undefined,
      supervision: 'resume',
      receive: (state, events, ctx) => {
        for (const event of events) {
          onEvent(event);
          // Nothing follows the end of a run: the watcher goes, so a long-lived client does not pile them up.
          if (event.type === 'workflow-ended') {
            this.watchers.delete(ctx.self);
            stopActor(ctx.self as ActorRef<never>);
            break;
          }
        }
        return state;
      },
    });
    this.watchers.set(ref, workflowId);
    return ref;
  }

  /** Stops a watcher, and tells its run it has gone. */
  private unwatch(ref: ActorRef<WorkflowEvents>): void {
    const workflowId = this.watchers.get(ref);
    if (workflowId === undefined) return;
    this.watchers.delete(ref);
    stopActor(ref as ActorRef<never>);
    if (workflowId !== '') tell(this.workflows, { type: 'to', tenant: this.tenant, workflowId, msg: { type: 'unwatch', watcher: ref } });
  }

  async startWorkflow(name: string, onEvent: (event: WorkflowEvent) => void, storage?: OwnStorage): Promise<string> {
    if (storage) await this.runStorages.check(storage, this.subject.roles.includes('admin'));
    const watcher = this.watcher(onEvent);
    const start = { type: 'start', tenant: this.tenant, name, watcher, ...(storage ? { storage } : {}) } as const;
    const { workflowId } = unwrap(await ask(this.workflows, start, CALL_TIMEOUT_MS));
    if (this.watchers.has(watcher)) this.watchers.set(watcher, workflowId);
    return workflowId;
  }

  /** Sends `build(replyTo)` to the workflow through the service, which checks the tenant. */
  private ask<T>(workflowId: string, build: (replyTo: ActorRef<Result<T>>) => WorkflowToMsg): Promise<Result<T>> {
    return query<WorkflowsMsg, Result<T>>(
      this.workflows,
      (replyTo) => ({ type: 'to', tenant: this.tenant, workflowId, msg: build(replyTo) }),
      CALL_TIMEOUT_MS,
    );
  }

  async submit(workflowId: string, ops: OpSpec[]): Promise<void> {
    unwrap(await this.ask(workflowId, (replyTo) => ({ type: 'submit', ops, replyTo })));
  }

  async finish(workflowId: string, result?: DataRef): Promise<WorkflowStatus> {
    return unwrap(await this.ask(workflowId, (replyTo) => (result === undefined ? { type: 'finish', replyTo } : { type: 'finish', result, replyTo })));
  }

  async cancel(workflowId: string, reason: string): Promise<WorkflowStatus> {
    return unwrap(await this.ask(workflowId, (replyTo) => ({ type: 'cancel', reason, replyTo })));
  }

  watch(workflowId: string, onEvent: (event: WorkflowEvent) => void): () => void {
    const watcher = this.watcher(onEvent, workflowId);
    // Another tenant's run is reported exactly like a missing one: the watch ends at once, failed.
    ask(this.workflows, { type: 'info', tenant: this.tenant, workflowId }, CALL_TIMEOUT_MS).then(
      (run) => {
        if (run) tell(this.workflows, { type: 'to', tenant: this.tenant, workflowId, msg: { type: 'watch', watcher } });
        else tell(watcher, [{ type: 'workflow-ended', workflowId, status: 'failed', reason: `no workflow ${workflowId}` }]);
      },
      (error: Error) => tell(watcher, [{ type: 'workflow-ended', workflowId, status: 'failed', reason: `cannot watch the run: ${error.message}` }]),
    );
    return () => this.unwatch(watcher);
  }

  list(skip = 0, limit = MAX_LIST_RUNS): Promise<RunPage> {
    return ask(this.workflows, { type: 'list', tenant: this.tenant, skip, limit: Math.min(limit, MAX_LIST_RUNS) }, CALL_TIMEOUT_MS);
  }

  async listAllTenants(skip = 0, limit = MAX_LIST_RUNS): Promise<RunPage> {
    // The admin role counts from the verified subject and its bindings, as for every call a remote client makes.
    await authorize(this.iam, this.subject, 'runs.read', 'server').catch((error: RuntimeError) => {
      throw error.code === 'FORBIDDEN' ? new RuntimeError('FORBIDDEN', `only an admin lists every tenant's runs: ${error.message}`) : error;
    });
    return ask(this.workflows, { type: 'list-all-tenants', skip, limit: Math.min(limit, MAX_LIST_RUNS) }, CALL_TIMEOUT_MS);
  }

  async describe(workflowId: string, skipOps: number, limitOps: number): Promise<WorkflowDetail> {
    const run = await ask(this.workflows, { type: 'info', tenant: this.tenant, workflowId }, CALL_TIMEOUT_MS);
    if (!run) throw new RuntimeError('NOT_FOUND', `no workflow ${workflowId}`);
    const detail = unwrap(await this.ask<RunDescription>(workflowId, (replyTo) => ({ type: 'describe', skip: skipOps, limit: limitOps, replyTo })));
    return { run, ...detail };
  }

  async assign(workflowId: string, fields: WhiteboardField[]): Promise<void> {
    unwrap(await this.ask<null>(workflowId, (replyTo) => ({ type: 'assign', fields, replyTo })));
  }

  async whiteboards(query: WhiteboardQuery): Promise<WhiteboardRecord[]> {
    return this.whiteboardIndex.find(this.tenant, query);
  }

  async logs(workflowId: string, afterSeq: number, limit: number, waitMs: number): Promise<LogPage> {
    return unwrap(await this.ask<LogPage>(workflowId, (replyTo) => ({ type: 'read-logs', afterSeq, limit, waitMs, replyTo })));
  }

  putBlob(workflowId: string, bytes: Buffer): Promise<StoredRef> {
    return this.store.put(this.tenant, workflowId, bytes);
  }

  getBlob(ref: DataRef): Promise<Buffer> {
    return this.store.get(this.tenant, uriOf(ref));
  }

  readBlob(uri: string, offset: number, length: number): Promise<Uint8Array> {
    return this.store.read(this.tenant, uri, offset, length);
  }

  close(): void {
    [...this.watchers.keys()].forEach((ref) => this.unwatch(ref));
  }
}
