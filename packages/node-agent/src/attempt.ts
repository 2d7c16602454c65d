import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BadBlobError, readBlob, writeBlob, type NodeStorage } from './blob-io.js';
import type { BundleCache } from './bundle-cache.js';
import { failure } from './failures.js';
import { fetchFile, storeFile } from './file-io.js';
import type { AttemptFinished, NodePhases, RunAttempt } from './protocol/agent.js';
import { isFileRef, type DataRef } from './protocol/data.js';
import type { OpFailure } from './protocol/failure.js';
import type { FileArg, RunnerOutcome, RunRequest } from './runner-messages.js';
import type { RunnerPool, RunnerWaiter } from './runner-pool.js';
import type { RunnerDeath, RunnerProcess, Stream } from './runner-process.js';

import type { Reporter } from './reporter.js';

type Outcome = AttemptFinished['outcome'];

/** What an attempt needs from its agent. */
export interface AttemptContext {
  readonly pool: RunnerPool;
  readonly storage: NodeStorage;
  /** Where the bundles of op modules are fetched to. */
  readonly bundles: BundleCache;
  /** Where attempts' file arguments are fetched to: each attempt's in a directory of its own, removed when it ends. */
  readonly files: string;
  /** Where output and results go to the runtime. */
  readonly reporter: Reporter;
  /** The attempt has reported its result. */
  ended(attempt: Attempt): void;
}

/**
 * `fetching` its op's bundle and stored arguments → `waiting` for a runner to begin it (in the pool's
 * queue, or sent to a runner behind other attempts) → `running` → `storing` a large result → `ended`,
 * from any phase on cancel or timeout.
 */
type Phase = 'fetching' | 'waiting' | 'running' | 'storing' | 'ended';

/**
 * One attempt of an op on this agent: gets its arguments, runs on a runner, forwards its output,
 * stores a large result, and reports how it ended exactly once. Its timeout and run time count
 * from the moment a runner begins it, not while it waits for one or behind another attempt.
 */
export class Attempt implements RunnerWaiter {
  private phase: Phase = 'fetching';
  private args: Array<Uint8Array | FileArg> = [];
  /** Its file arguments' directory on this node, once it fetches one. */
  private filesDir: string | undefined;
  /** The `file:` URL of the op's bundle on this node, once fetched. */
  private file: string | undefined;
  private runner: RunnerProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the agent was given the attempt, had its bundle and inputs, a runner began it, and it began storing its result (performance.now()). */
  private readonly givenAt = performance.now();
  private fetchedAt: number | undefined;
  private startedAt: number | undefined;
  private storingAt: number | undefined;
  /** Why the agent killed the attempt's runner: the attempt ends with it once the runner is gone. */
  private killedFor: OpFailure | undefined;

  constructor(
    private readonly run: RunAttempt,
    private readonly ctx: AttemptContext,
  ) {}

  get id(): string {
    return this.run.attemptId;
  }

  get memoryMb(): number | undefined {
    return this.run.memoryMb;
  }

  get ended(): boolean {
    return this.phase === 'ended';
  }

  /** Starts the attempt: fetches the op's bundle and what is not inline (unless all is here), then waits for a runner. */
  begin(): void {
    const { bundle, args } = this.run;
    const file = bundle === undefined ? undefined : this.ctx.bundles.presentFileOf(bundle);
    if ((bundle === undefined || file !== undefined) && args.every((ref) => ref.inline !== undefined)) {
      if (file !== undefined) this.file = file;
      this.args = args.map((ref) => ref.inline!);
      this.phase = 'waiting';
      this.fetchedAt = this.givenAt;
      this.ctx.pool.acquire(this);
    } else void this.fetch();
  }

  /** The runtime cancelled the attempt. */
  cancel(): void {
    this.stop(failure('CANCELLED', 'CancelledError', `attempt ${this.run.attemptId} of op ${this.run.opName} was cancelled`));
  }

  request(): RunRequest {
    const { attemptId, module, exportName, env } = this.run;
    const request: RunRequest = { type: 'run', attemptId, module, exportName, args: this.args, env };
    if (this.file !== undefined) request.file = this.file;
    return request;
  }

  began(runner: RunnerProcess): void {
    // Cancelled while it was sent behind another attempt: the runner is running it now, and it may never return.
    if (this.phase === 'ended') return runner.kill();
    this.phase = 'running';
    this.runner = runner;
    this.args = [];
    this.startedAt = performance.now();
    const { timeoutMs, opName } = this.run;
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(
        () => this.stop(failure('TIMEOUT', 'TimeoutError', `op ${opName} did not finish within its timeout of ${timeoutMs} ms; its runner was killed`)),
        timeoutMs,
      );
    }
  }

  log(stream: Stream, text: string): void {
    if (this.phase !== 'ended') this.ctx.reporter.log(this.run.attemptId, stream, text);
  }

  finished(outcome: RunnerOutcome): void {
    this.runner = undefined;
    this.complete(outcome);
  }

  died(death: RunnerDeath): void {
    this.runner = undefined;
    this.end({ ok: false, failure: this.killedFor ?? deathFailure(death, this.run) });
  }

  private async fetch(): Promise<void> {
    const { storage, bundles } = this.ctx;
    const { bundle, opName, module } = this.run;
    const file = bundle === undefined ? undefined : bundles.fileOf(bundle);
    const reading = Promise.all(
      this.run.args.map((ref): Uint8Array | Promise<Uint8Array | FileArg> => {
        if (ref.inline) return ref.inline;
        if (!isFileRef(ref)) return readBlob(storage, ref);
        this.filesDir ??= join(this.ctx.files, encodeURIComponent(this.run.attemptId));
        return fetchFile(storage, ref, this.filesDir).then((path) => ({ ref, path }));
      }),
    );
    // Both go on at once; whichever fails is reported, and the other's failure is not left unhandled.
    file?.catch(() => {});
    reading.catch(() => {});
    try {
      this.file = await file;
    } catch (error) {
      const reason = (error as Error).message;
      const what = `the bundle of op ${opName} (module ${module}, ${bundle!.uri})`;
      return this.end({
        ok: false,
        failure:
          error instanceof BadBlobError
            ? failure('BAD_OP', 'BadOpError', `${what} was refused: ${reason}; the stored bundle is not what the client shipped`)
            : failure('STORAGE_ERROR', 'StorageError', `${what} could not be fetched: ${reason}`),
      });
    }
    let args: Array<Uint8Array | FileArg>;
    try {
      args = await reading;
    } catch (error) {
      const message = `an argument of op ${this.run.opName} could not be read: ${(error as Error).message}`;
      const bad = error instanceof BadBlobError;
      return this.end({ ok: false, failure: failure(bad ? 'BAD_INPUT' : 'STORAGE_ERROR', bad ? 'BadInputError' : 'StorageError', message) });
    }
    if (this.phase !== 'fetching') return;
    this.args = args;
    this.phase = 'waiting';
    this.fetchedAt = performance.now();
    this.ctx.pool.acquire(this);
  }

  private stop(reason: OpFailure): void {
    switch (this.phase) {
      case 'waiting':
        // One already sent to a runner is asked back; a runner that begins it all the same is killed.
        this.ctx.pool.withdraw(this);
        return this.end({ ok: false, failure: reason });
      case 'fetching':
      case 'storing':
        return this.end({ ok: false, failure: reason });
      case 'running':
        if (this.killedFor) return;
        this.killedFor = reason;
        return this.runner!.kill();
      case 'ended':
        return;
    }
  }

  private complete(outcome: RunnerOutcome): void {
    if (!outcome.ok) return this.end(outcome);
    if ('file' in outcome) return this.storing(`the file ${outcome.file} returned by op ${this.run.opName}`, storeFile(this.ctx.storage, this.run.attemptId, outcome.file));
    if (outcome.bytes === undefined) return this.end(outcome);
    const { result, bytes } = outcome;
    this.storing(`the result of op ${this.run.opName}`, writeBlob(this.ctx.storage, this.run.attemptId, result, bytes).then(() => result));
  }

  /** Ends the attempt with the result `stored` stores, or its failure to store `what` (a full quota is not worth retrying). */
  private storing(what: string, stored: Promise<DataRef>): void {
    this.phase = 'storing';
    this.storingAt = performance.now();
    stored.then(
      (result) => this.end({ ok: true, result }),
      (error: Error & { code?: string }) =>
        this.end({
          ok: false,
          failure:
            error.code === 'STORAGE_QUOTA_EXCEEDED'
              ? failure('STORAGE_QUOTA_EXCEEDED', 'StorageQuotaExceededError', `${what} was not stored: ${error.message}`)
              : failure('STORAGE_ERROR', 'StorageError', `${what} could not be stored: ${error.message}`),
        }),
    );
  }

  private end(outcome: Outcome): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    clearTimeout(this.timer);
    const finished: AttemptFinished = { attemptId: this.run.attemptId, outcome };
    const endedAt = performance.now();
    if (this.startedAt !== undefined) finished.runMs = (this.storingAt ?? endedAt) - this.startedAt;
    finished.phases = nodePhases(this.givenAt, this.fetchedAt, this.startedAt, this.storingAt, endedAt);
    this.ctx.reporter.finish(finished);
    this.ctx.ended(this);
    if (this.filesDir !== undefined) void rm(this.filesDir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Where an attempt's time on the node went, from the moments it reached each phase (those it never
 * reached are undefined): fetching until its inputs were in, waiting until a runner began it,
 * storing from the end of its run.
 */
function nodePhases(givenAt: number, fetchedAt: number | undefined, startedAt: number | undefined, storingAt: number | undefined, endedAt: number): NodePhases {
  return {
    transferInMs: (fetchedAt ?? endedAt) - givenAt,
    waitMs: fetchedAt === undefined ? 0 : (startedAt ?? endedAt) - fetchedAt,
    transferOutMs: storingAt === undefined ? 0 : endedAt - storingAt,
  };
}

/** Why an attempt failed when its runner died under it. */
function deathFailure(death: RunnerDeath, run: RunAttempt): OpFailure {
  if (death.crash) return death.crash;
  if (death.outOfMemory) {
    const limit = run.memoryMb === undefined ? "the runner's default heap limit" : `its heap limit of ${run.memoryMb} MiB (memoryMb)`;
    return failure('OUT_OF_MEMORY', 'OutOfMemoryError', `op ${run.opName} ran out of memory: it exhausted ${limit}. Fix: ask for more memoryMb, or use less memory`);
  }
  const how = death.signal ? `was killed by signal ${death.signal}` : death.code !== null ? `exited with code ${death.code}` : 'could not be started';
  const last = death.lastError ? `; its last stderr line: ${death.lastError}` : '';
  return failure('PROCESS_EXITED', 'ProcessExitedError', `the runner process of op ${run.opName} ${how} while running it (did the op call process.exit?)${last}`);
}
