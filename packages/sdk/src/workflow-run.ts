import { hash } from 'node:crypto';
import { LzyFile } from '@lzy/node-agent/file';
import { decodeValue, encodeValue, isFileRef, refFor, type DataRef } from '@lzy/node-agent/protocol';
import type { ArgSpec, OpSpec, OwnStorage, RuntimeConnection, WorkflowEvent, WorkflowStatus } from '@lzy/runtime';
import type { WhiteboardField } from '@lzy/runtime/protocol';
import { OpError, WorkflowCancelledError } from './errors.js';
import { identityOf, type OpIdentity } from './identity.js';
import { Lazy } from './lazy.js';
import { opLine } from './notices.js';
import { OP, type Op } from './op.js';
import { forgetShipped, shipModule, type ShippedModule } from './shipping.js';
import { storedFiles } from './stored-files.js';
import { createWhiteboard, WhiteboardError, type Whiteboard, type WhiteboardHeader } from './whiteboard.js';

/** One line of an op's output, as it arrives while the op runs. */
export interface OpLogLine {
  opName: string;
  opId: string;
  /** `stdout`/`stderr`: the op's own output; `lzy`: a notice of the runtime about the op (a retry, a cache hit). */
  stream: 'stdout' | 'stderr' | 'lzy';
  text: string;
}

/** What the workflow callback gets: the run's id and name, a signal that fires when it ends badly, and its whiteboards. */
export interface WorkflowHandle {
  readonly id: string;
  readonly name: string;
  readonly signal: AbortSignal;
  /** A new whiteboard of this run: assign its fields once each; it is stored when the run succeeds. */
  whiteboard<T extends Record<string, unknown> = Record<string, unknown>>(name: string, options?: { tags?: string[] }): Whiteboard<T>;
}

/** A whiteboard field assigned and not yet sent to the runtime. */
interface Assignment {
  readonly header: WhiteboardHeader;
  readonly field: string;
  readonly value: { lazy: Lazy<unknown> } | { bytes: Buffer };
}

interface CallRecord {
  readonly id: string;
  readonly op: Op<unknown[], unknown>;
  /** A value's bytes and its ref, computed once: the ref's hash names the value in the call's id (a stored file: its ref only). */
  readonly args: Array<{ lazy: Lazy<unknown> } | { bytes?: Buffer; ref: DataRef }>;
  readonly promise: Promise<unknown>;
  /** The export name, once the call was submitted. */
  name?: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  settled: boolean;
}

/**
 * The client side of one workflow run: records op calls as graph nodes, submits them at each
 * barrier (or at once when eager), and settles each call's `Lazy` from the runtime's events.
 */
export class WorkflowRun {
  private readonly calls = new Map<string, CallRecord>();
  private pending: CallRecord[] = [];
  private submitting: Promise<void> = Promise.resolve();
  /** A submission is queued and has not yet taken the pending calls. */
  private submissionQueued = false;
  private unsettled = 0;
  private failure: Error | undefined;
  /** Made when the workflow function first reads `signal` (most never do): an AbortController is costly to make. */
  private abort: AbortController | undefined;
  private idleWaiters: Array<() => void> = [];
  private ended: WorkflowStatus | undefined;
  private assignments: Assignment[] = [];
  private endWaiters: Array<() => void> = [];
  /** An op failed for good or the run ended: the runtime ends the run by itself. */
  private endedByRuntime = false;
  readonly handle: WorkflowHandle;

  private constructor(
    private readonly connection: RuntimeConnection,
    readonly id: string,
    readonly name: string,
    private readonly eager: boolean,
  ) {
    const run = this;
    this.handle = {
      id,
      name,
      get signal() {
        if (!run.abort) {
          run.abort = new AbortController();
          if (run.failure) run.abort.abort(run.failure);
        }
        return run.abort.signal;
      },
      whiteboard: (boardName, options) => createWhiteboard(boardName, options?.tags ?? [], (header, field, value) => this.assign(header, field, value)),
    };
  }

  /** Starts a run in the runtime; its events flow into the new `WorkflowRun`. */
  static async start(
    connection: RuntimeConnection,
    name: string,
    options: { eager: boolean; onLog: (line: OpLogLine) => void; storage: OwnStorage | undefined },
  ): Promise<WorkflowRun> {
    let run: WorkflowRun | undefined;
    const early: WorkflowEvent[] = [];
    // A run's op counts are not shown: only its results and failures are heard.
    const id = await connection.startWorkflow(name, (event) => (run ? run.onEvent(event, options.onLog) : early.push(event)), options.storage, { progress: false });
    run = new WorkflowRun(connection, id, name, options.eager);
    for (const event of early) run.onEvent(event, options.onLog);
    return run;
  }

  /** The error that ended the run badly, if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Records a call of `op` with `args`; identical calls (same op, same inputs) share one node. */
  call(op: Op<unknown[], unknown>, args: unknown[]): Lazy<unknown> {
    if (this.failure) {
      const failure = this.failure;
      return new Lazy(undefined, this, () => Promise.reject(failure));
    }
    // The id is the sha256 of the op's site and its inputs, hashed in one go (cheaper than a Hash object).
    let identity = op[OP].site;
    const recorded: CallRecord['args'] = args.map((arg) => {
      if (arg instanceof Lazy) {
        if (arg.owner !== this || arg.callId === undefined) {
          throw new TypeError(`a Lazy passed to ${op[OP].site} comes from another workflow or a local call; await it first`);
        }
        identity += `\u0000lazy:${arg.callId}`;
        return { lazy: arg };
      }
      if (arg instanceof LzyFile) {
        if (arg.ref === undefined) throw new TypeError(`${arg} passed to ${op[OP].site} is a file on this machine; only a file an op returned can be passed to an op`);
        identity += `\u0000value:${arg.ref.hash}`;
        return { ref: arg.ref };
      }
      const bytes = encodeValue(arg);
      const ref = refFor(bytes);
      identity += `\u0000value:${ref.hash}`;
      return { bytes, ref };
    });
    const id = hash('sha256', identity).slice(0, 32);
    let record = this.calls.get(id);
    if (!record) {
      let resolve!: (value: unknown) => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {});
      record = { id, op, args: recorded, promise, resolve, reject, settled: false };
      this.calls.set(id, record);
      this.pending.push(record);
      this.unsettled++;
      if (this.eager) void this.flush();
    }
    const target = record;
    // A failed submission rejects every unsettled call's promise (see `fail`), so awaiting a call
    // needs only its own promise: no promise chained per call on the submission.
    return new Lazy(id, this, () => {
      void this.flush();
      return target.promise;
    });
  }

  /** Records a whiteboard field; it reaches the runtime with the next submission. */
  private assign(header: WhiteboardHeader, field: string, value: unknown): void {
    if (value instanceof Lazy) {
      if (value.owner !== this || value.callId === undefined) {
        throw new WhiteboardError(`field ${field} of whiteboard ${header.name} takes a Lazy of another workflow or of a local call; await it first`);
      }
      this.assignments.push({ header, field, value: { lazy: value } });
    } else {
      this.assignments.push({ header, field, value: { bytes: encodeValue(value) } });
    }
  }

  /** Submits every call recorded so far as one graph. */
  flush(): Promise<void> {
    // Awaiting many Lazy at once (Promise.all) flushes once: a queued submission takes all there is.
    if (this.submissionQueued || (this.pending.length === 0 && this.assignments.length === 0)) return this.submitting;
    this.submissionQueued = true;
    this.submitting = this.submitting.then(() => {
      this.submissionQueued = false;
      return this.submitPending();
    });
    // Its failure reaches the calls through `fail`; those who await the flush itself still see it.
    this.submitting.catch(() => {});
    return this.submitting;
  }

  /** Resolves once every submitted call has settled, or the run failed. */
  async settled(): Promise<void> {
    await this.flush();
    if (this.unsettled === 0 || this.failure) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Ends a run that failed: when the runtime ends it by itself (an op failed for good), waits up to
   * `timeoutMs` for that; when the failure is the client's own, cancels the run with `reason`.
   */
  async end(reason: string, timeoutMs: number): Promise<void> {
    if (!this.endedByRuntime) return this.cancel(reason);
    if (this.ended !== undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.endWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  /**
   * Ends the run in the runtime once nothing runs, keeping `value` (the workflow function's) with
   * it for those who attach; a value that is not data is not kept. Returns the run's final status.
   */
  async finish(value: unknown): Promise<WorkflowStatus> {
    let bytes: Buffer | undefined;
    try {
      bytes = encodeValue(value);
    } catch {
      bytes = undefined;
    }
    return this.connection.finish(this.id, bytes && (await this.stored(bytes)));
  }

  /** Cancels the run: running ops are killed, every pending `Lazy` rejects with the reason. */
  async cancel(reason: string): Promise<void> {
    this.fail(new WorkflowCancelledError(reason));
    if (this.ended === undefined) await this.connection.cancel(this.id, reason);
  }

  private async submitPending(): Promise<void> {
    if (this.failure) return;
    try {
      await this.submitCalls();
      await this.submitAssignments();
    } catch (error) {
      this.fail(error as Error);
      throw error;
    }
  }

  private async submitAssignments(): Promise<void> {
    if (this.assignments.length === 0) return;
    const assignments = this.assignments;
    this.assignments = [];
    const fields: WhiteboardField[] = await Promise.all(
      assignments.map(async ({ header, field, value }) => ({
        ...header,
        field,
        value: 'lazy' in value ? { kind: 'op' as const, opId: value.lazy.callId! } : { kind: 'value' as const, ref: await this.stored(value.bytes) },
      })),
    );
    await this.connection.assign(this.id, fields);
  }

  private async stored(bytes: Buffer): Promise<DataRef> {
    const ref = refFor(bytes);
    return ref.inline ? ref : this.connection.putBlob(this.id, bytes);
  }

  private async submitCalls(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      await this.submitBatch(batch);
    } catch (error) {
      // A connection open for long: every run that held a bundle it shipped has expired. Shipped again, once.
      if ((error as { code?: unknown }).code !== 'BLOB_EXPIRED') throw error;
      forgetShipped(this.connection);
      await this.submitBatch(batch);
    }
  }

  private async submitBatch(batch: CallRecord[]): Promise<void> {
    // Each op's identity and each module's bundle once per batch, and blobs only for values too large to go inline.
    const identities = new Map<Op<unknown[], unknown>, OpIdentity>();
    const bundles = new Map<string, ShippedModule>();
    for (const record of batch) {
      if (identities.has(record.op)) continue;
      const identity = await identityOf(record.op);
      identities.set(record.op, identity);
      if (!bundles.has(identity.module)) bundles.set(identity.module, await shipModule(this.connection, identity.module, this.id));
    }
    const specs: Array<OpSpec | Promise<OpSpec>> = [];
    let storing = false;
    // Indexed: this loop runs once per submission over every call, mostly before it is optimized.
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]!;
      const identity = identities.get(record.op)!;
      const spec = this.specOf(record, identity, bundles.get(identity.module)!);
      storing ||= spec instanceof Promise;
      specs.push(spec);
    }
    // Only a call with a large argument waits for it to be stored; the others cost no promise.
    await this.connection.submit(this.id, storing ? await Promise.all(specs) : (specs as OpSpec[]));
  }

  private specOf(record: CallRecord, { module, exportName }: OpIdentity, { bundle, code }: ShippedModule): OpSpec | Promise<OpSpec> {
    const args: ArgSpec[] = [];
    const stored: Array<Promise<void>> = [];
    for (const arg of record.args) {
      if ('lazy' in arg) {
        args.push({ kind: 'op', opId: arg.lazy.callId! });
        continue;
      }
      const { ref } = arg;
      const spec: ArgSpec = { kind: 'value', ref };
      args.push(spec);
      if (!ref.inline && arg.bytes) stored.push(this.connection.putBlob(this.id, arg.bytes).then((put) => void (spec.ref = put)));
    }
    const definition = record.op[OP];
    record.name = exportName;
    const { options } = definition;
    const spec: OpSpec = {
      id: record.id,
      name: exportName,
      module,
      exportName,
      bundle,
      args,
      retries: options.retries,
      env: options.env,
    };
    if (options.pool !== undefined) spec.pool = options.pool;
    if (options.cpu !== undefined) spec.cpu = options.cpu;
    if (options.memoryMb !== undefined) spec.memoryMb = options.memoryMb;
    if (options.timeoutMs !== undefined) spec.timeoutMs = options.timeoutMs;
    if (options.cache) spec.cache = { version: options.version, ...code };
    return stored.length === 0 ? spec : Promise.all(stored).then(() => spec);
  }

  private onEvent(event: WorkflowEvent, onLog: (line: OpLogLine) => void): void {
    switch (event.type) {
      case 'op-succeeded': {
        const record = this.calls.get(event.opId);
        if (!record || record.settled) return;
        if (event.cached) onLog({ opName: nameOf(record), opId: event.opId, stream: 'lzy', text: 'result taken from the cache' });
        const { inline } = event.result;
        if (isFileRef(event.result)) this.settleValue(record, LzyFile.remote(event.result, storedFiles(this.connection)));
        else if (inline) this.settleWith(record, inline);
        else {
          void this.connection.getBlob(event.result).then(
            (bytes) => this.settleWith(record, bytes),
            (error: Error) => this.fail(error),
          );
        }
        return;
      }
      case 'op-failed': {
        this.endedByRuntime = true;
        const record = this.calls.get(event.opId);
        const error = new OpError(event.failure, event.opName, event.attempt);
        if (record && !record.settled) {
          record.reject(error);
          this.countSettled(record);
        }
        this.fail(error);
        return;
      }
      case 'op-log':
      case 'op-retrying':
      case 'op-cache-miss':
        onLog(opLine(event)!);
        return;
      case 'progress':
        return;
      case 'workflow-ended':
        this.endedByRuntime = true;
        this.ended = event.status;
        this.endWaiters.forEach((wake) => wake());
        this.endWaiters = [];
        if (event.status === 'cancelled') this.fail(new WorkflowCancelledError(event.reason ?? 'cancelled'));
        if (event.status === 'failed' && !this.failure) this.fail(new Error(`workflow ${this.name} failed: ${event.reason ?? ''}`));
        return;
    }
  }

  /** Resolves a call with the value encoded in `bytes`; bytes that do not decode fail the run. */
  private settleWith(record: CallRecord, bytes: Uint8Array): void {
    let value: unknown;
    try {
      value = decodeValue(bytes);
    } catch (error) {
      return this.fail(error as Error);
    }
    this.settleValue(record, value);
  }

  /** Resolves a call with `value`, unless it is settled already. */
  private settleValue(record: CallRecord, value: unknown): void {
    if (record.settled) return;
    record.resolve(value);
    this.countSettled(record);
  }

  /** Counts `record` settled, and wakes those waiting for all calls once none is left. */
  private countSettled(record: CallRecord): void {
    record.settled = true;
    this.unsettled--;
    if (this.unsettled === 0) this.wakeIdle();
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const record of this.calls.values()) {
      if (record.settled) continue;
      record.settled = true;
      record.reject(error);
    }
    this.unsettled = 0;
    this.abort?.abort(error);
    this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((wake) => wake());
  }
}

/** The name an op call is reported under: its export name once known, else where it was defined. */
function nameOf(record: CallRecord): string {
  return record.name ?? record.op[OP].site;
}
