import type { OpSpec, OwnStorage, RuntimeConnection, StartOptions, WorkflowEvent, WorkflowStatus } from '@lzy/runtime';

/** Where the ops of one run stand, as a client sees them. */
export interface Progress {
  total: number;
  done: number;
  /** Every input is there: queued or running on a node. */
  running: number;
  /** Some input is not there yet. */
  waiting: number;
  failed: number;
  /** Set once the run has ended. */
  ended?: WorkflowStatus;
}

/** The ops of one run, counted from what the client submitted and the events it heard. */
class RunProgress {
  private readonly inputs = new Map<string, string[]>();
  private readonly done = new Set<string>();
  private readonly failed = new Set<string>();
  private ended: WorkflowStatus | undefined;

  constructor(readonly name: string) {}

  add(ops: OpSpec[]): void {
    for (const op of ops) {
      if (!this.inputs.has(op.id)) this.inputs.set(op.id, op.args.flatMap((arg) => (arg.kind === 'op' ? [arg.opId] : [])));
    }
  }

  /** Whether the event changed the counts. A result replayed after a reconnect changes nothing. */
  observe(event: WorkflowEvent): boolean {
    if (event.type === 'op-succeeded') return grows(this.done, event.opId);
    if (event.type === 'op-failed') return grows(this.failed, event.opId);
    return event.type === 'workflow-ended' && this.end(event.status);
  }

  /** Whether this is news: the end is heard both as an event and as the answer to `finish`. */
  end(status: WorkflowStatus): boolean {
    if (this.ended !== undefined || status === 'active') return false;
    this.ended = status;
    return true;
  }

  get progress(): Progress {
    let running = 0;
    for (const [opId, inputs] of this.inputs) {
      if (this.done.has(opId) || this.failed.has(opId)) continue;
      if (inputs.every((input) => this.done.has(input))) running++;
    }
    const progress: Progress = {
      total: this.inputs.size,
      done: this.done.size,
      running,
      waiting: this.inputs.size - this.done.size - this.failed.size - running,
      failed: this.failed.size,
    };
    if (this.ended !== undefined) progress.ended = this.ended;
    return progress;
  }
}

function grows(set: Set<string>, item: string): boolean {
  if (set.has(item)) return false;
  set.add(item);
  return true;
}

/**
 * A connection that counts the ops of the runs started through it and reports each change:
 * how `lzy run` shows progress without the runtime's help, over any connection.
 */
export class ProgressTracker implements RuntimeConnection {
  private readonly runs = new Map<string, RunProgress>();

  constructor(
    private readonly inner: RuntimeConnection,
    private readonly onProgress: (name: string, progress: Progress) => void,
  ) {}

  get tenant(): string {
    return this.inner.tenant;
  }

  async startWorkflow(name: string, onEvent: (event: WorkflowEvent) => void, storage?: OwnStorage, options?: StartOptions): Promise<string> {
    const run = new RunProgress(name);
    const workflowId = await this.inner.startWorkflow(
      name,
      (event) => {
        if (run.observe(event)) this.onProgress(run.name, run.progress);
        onEvent(event);
      },
      storage,
      options,
    );
    this.runs.set(workflowId, run);
    return workflowId;
  }

  async submit(workflowId: string, ops: OpSpec[]): Promise<void> {
    await this.inner.submit(workflowId, ops);
    const run = this.runs.get(workflowId);
    if (!run) return;
    run.add(ops);
    this.onProgress(run.name, run.progress);
  }

  finish(...[workflowId, result]: Parameters<RuntimeConnection['finish']>): Promise<WorkflowStatus> {
    return this.inner.finish(workflowId, result).then((status) => this.ended(workflowId, status));
  }

  cancel(workflowId: string, reason: string): Promise<WorkflowStatus> {
    return this.inner.cancel(workflowId, reason).then((status) => this.ended(workflowId, status));
  }

  private ended(workflowId: string, status: WorkflowStatus): WorkflowStatus {
    const run = this.runs.get(workflowId);
    if (run?.end(status)) this.onProgress(run.name, run.progress);
    return status;
  }

  watch(workflowId: string, onEvent: (event: WorkflowEvent) => void): () => void {
    return this.inner.watch(workflowId, onEvent);
  }

  list(...args: Parameters<RuntimeConnection['list']>) {
    return this.inner.list(...args);
  }

  listAllTenants(...args: Parameters<RuntimeConnection['listAllTenants']>) {
    return this.inner.listAllTenants(...args);
  }

  describe(...args: Parameters<RuntimeConnection['describe']>) {
    return this.inner.describe(...args);
  }

  assign(...args: Parameters<RuntimeConnection['assign']>) {
    return this.inner.assign(...args);
  }

  whiteboards(...args: Parameters<RuntimeConnection['whiteboards']>) {
    return this.inner.whiteboards(...args);
  }

  logs(...args: Parameters<RuntimeConnection['logs']>) {
    return this.inner.logs(...args);
  }

  putBlob(workflowId: string, bytes: Buffer) {
    return this.inner.putBlob(workflowId, bytes);
  }

  getBlob(ref: Parameters<RuntimeConnection['getBlob']>[0]) {
    return this.inner.getBlob(ref);
  }

  readBlob(...args: Parameters<RuntimeConnection['readBlob']>) {
    return this.inner.readBlob(...args);
  }

  close() {
    return this.inner.close();
  }
}
