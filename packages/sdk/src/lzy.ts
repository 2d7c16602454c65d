import type { OwnStorage, PoolConfig, RuntimeConnection, StorageOptions } from '@lzy/runtime';
import { attachRun, type AttachOptions } from './attach.js';
import { WorkflowCancelledError } from './errors.js';
import { inRun } from './context.js';
import { openLocalRuntime, type LocalRuntimeOptions } from './local-runtime.js';
import { RemoteConnection, type RemoteOptions } from './remote-connection.js';
import { describeRun, type RunStatus } from './run-status.js';
import { readWhiteboards, type StoredWhiteboard, type WhiteboardFilter } from './whiteboard.js';
import { WorkflowRun, type OpLogLine, type WorkflowHandle } from './workflow-run.js';

/** Options of `Lzy.start`: the embedded runtime. */
export interface LzyStartOptions {
  /** Where the runtime keeps its state and blobs. Default `./.lzy`, or `LZY_HOME`. */
  dataDir?: string;
  /** Node pools; default one pool of 2 local nodes with 4 slots each. A process that joins another's runtime uses that one's. */
  pools?: PoolConfig[];
  /** Where runs' values are stored: `{ s3: { bucket, ... } }`, or by default files under the data dir. A process that joins another's runtime uses that one's. */
  storage?: StorageOptions;
  /** Where ops' output lines go; default stderr, each line prefixed with `[op#id]`. */
  onLog?: (line: OpLogLine) => void;
}

/** Options of `Lzy.connect`: a shared runtime (`lzy server`). */
export interface LzyConnectOptions extends RemoteOptions {
  /** Where ops' output lines go; default stderr, each line prefixed with `[op#id]`. */
  onLog?: (line: OpLogLine) => void;
}

/** Options of one workflow run. */
export interface WorkflowOptions {
  /** Cancels the run: running ops are killed, the workflow's promise rejects. */
  signal?: AbortSignal;
  /** Submit each call at once instead of at the next barrier. */
  eager?: boolean;
  /**
   * Keep the run's values in your own bucket, under `prefix`: `{ bucket, prefix, endpoint, region,
   * credentials: { accessKeyId, secretAccessKey }, pathStyle }`. Only the runtime holds the
   * credentials; nodes get presigned URLs. Default: the runtime's storage.
   */
  storage?: OwnStorage;
}

/** An op's output as printed: each line prefixed with `[op#id]` (`lzy: op#id:` for the runtime's notices), ending in a newline. */
export function formatOpLog(line: OpLogLine): string {
  const prefix = line.stream === 'lzy' ? `lzy: ${line.opName}#${line.opId.slice(0, 8)}: ` : `[${line.opName}#${line.opId.slice(0, 8)}] `;
  return line.text.replace(/^(?=.)/gm, prefix) + (line.text.endsWith('\n') ? '' : '\n');
}

/** How long a failed workflow's promise waits for the runtime to record the end of the run. */
const END_WAIT_MS = 10_000;

const printLog = (line: OpLogLine) => process.stderr.write(formatOpLog(line));

/** The client of a Lzy runtime: runs workflows whose op calls execute on leased nodes. */
export class Lzy {
  private constructor(
    private readonly connection: RuntimeConnection,
    private readonly onLog: (line: OpLogLine) => void,
    private readonly onClose: () => Promise<void>,
  ) {}

  /**
   * Starts the embedded runtime of the data dir in this process, as the local tenant. When another
   * process of this user runs it already (a second script in the folder), joins that one instead,
   * and takes the data dir over if that process ends first (see `openLocalRuntime`).
   */
  static async start(options: LzyStartOptions = {}): Promise<Lzy> {
    const local = await openLocalRuntime(pick(options));
    return new Lzy(local.connection, options.onLog ?? printLog, () => local.close());
  }

  /**
   * Connects to a shared runtime (`lzy server`) as the tenant of `token`, or of the client
   * `clientId` (with `clientSecret`) of the server's issuer, whose tokens it fetches and renews
   * before they expire without dropping the connection. The client reconnects by itself when the
   * server goes away, and a workflow it waits for goes on once the server is back.
   */
  static async connect(options: LzyConnectOptions): Promise<Lzy> {
    const { onLog, ...remote } = options;
    const connection = await RemoteConnection.open(remote);
    return new Lzy(connection, onLog ?? printLog, () => connection.close());
  }

  /** A client over an existing connection (another transport, or a second tenant of a runtime). */
  static over(connection: RuntimeConnection, options: { onLog?: (line: OpLogLine) => void } = {}): Lzy {
    return new Lzy(connection, options.onLog ?? printLog, async () => connection.close());
  }

  /** The tenant this client acts as. */
  get tenant(): string {
    return this.connection.tenant;
  }

  /**
   * Runs `fn` as a workflow: op calls inside it (also in helpers it calls) become a graph that
   * runs on nodes. Leaving `fn` submits what is left and waits for every call; the first op that
   * fails for good rejects the workflow with its `OpError`, and the rest is cancelled.
   */
  async workflow<T>(name: string, fn: (wf: WorkflowHandle) => T | Promise<T>, options: WorkflowOptions = {}): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) throw new WorkflowCancelledError(reasonOf(signal));
    const run = await WorkflowRun.start(this.connection, name, { eager: options.eager ?? false, onLog: this.onLog, storage: options.storage });
    const onAbort = () => void run.cancel(reasonOf(signal!)).catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const value = await inRun(run, () => fn(run.handle));
      await run.settled();
      if (run.error) throw run.error;
      const status = await run.finish(value);
      if (run.error) throw run.error;
      if (status !== 'finished') throw new Error(`workflow ${name} ended ${status}`);
      return value;
    } catch (error) {
      const reported = run.error ?? error;
      // Once this rejects, the runtime lists the run as ended (failed or cancelled) too.
      const why = run.error ? (reported as Error).message : `the workflow function threw: ${(error as Error)?.message ?? error}`;
      await run.end(why, END_WAIT_MS).catch(() => {});
      throw reported;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Follows a run of this tenant (started here, by another client, or before a restart) beside
   * any other watcher of it, printing its ops' output like `workflow` does, and resolves with the
   * value its workflow function returned once it finishes; rejects with the `OpError` that failed
   * it, or `WorkflowCancelledError`.
   */
  attach<T = unknown>(workflowId: string, options: AttachOptions = {}): Promise<T> {
    return attachRun<T>(this.connection, workflowId, this.onLog, options);
  }

  /**
   * Run `workflowId` as it stands: its state, each op's state and attempts, where each attempt's
   * time went (queue, allocate, transfer in, run, transfer out; the op's journal commit), and the
   * run's critical path.
   */
  status(workflowId: string): Promise<RunStatus> {
    return describeRun(this.connection, workflowId);
  }

  /** The tenant's whiteboards that match `filter` (all when empty), newest first, their fields read back as values. */
  whiteboards<T extends Record<string, unknown> = Record<string, unknown>>(filter: WhiteboardFilter = {}): Promise<StoredWhiteboard<T>[]> {
    return readWhiteboards<T>(this.connection, filter);
  }

  /** Closes the client, and the embedded runtime with it. */
  async close(): Promise<void> {
    this.connection.close();
    await this.onClose();
  }
}

/** The options that say which runtime to open or start. */
function pick({ dataDir, pools, storage }: LzyStartOptions): LocalRuntimeOptions {
  return { ...(dataDir === undefined ? {} : { dataDir }), ...(pools === undefined ? {} : { pools }), ...(storage === undefined ? {} : { storage }) };
}

function reasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
}
