/** An op failed for good: its attempts are used up or the failure cannot be retried. */
export class OpError extends Error {
  /** Why: `USER_ERROR` (the op threw), `TIMEOUT`, `OUT_OF_MEMORY`, `PROCESS_EXITED`, `NODE_LOST`, `BAD_OP`, … */
  readonly code: string;
  readonly opName: string;
  /** The attempt that failed last, from 1. */
  readonly attempt: number;
  /** The name of the error the op threw (e.g. `TypeError`). */
  readonly remoteName: string;
  /** The op's own stack, as it was in the node's process. */
  readonly remoteStack: string | undefined;

  constructor(failure: { code: string; name: string; message: string; stack?: string }, opName: string, attempt: number) {
    super(`op ${opName} failed (attempt ${attempt}, ${failure.code}): ${failure.name}: ${failure.message}`);
    this.name = 'OpError';
    this.code = failure.code;
    this.opName = opName;
    this.attempt = attempt;
    this.remoteName = failure.name;
    this.remoteStack = failure.stack;
    if (failure.stack) this.stack = `${this.name}: ${this.message}\n--- in op ${opName} ---\n${failure.stack}`;
  }
}

/** The workflow was cancelled (its AbortSignal fired, or `lzy cancel`). */
export class WorkflowCancelledError extends Error {
  constructor(readonly reason: string) {
    super(`workflow cancelled: ${reason}`);
    this.name = 'WorkflowCancelledError';
  }
}

/** An op is defined in a way the runtime cannot run, e.g. it is not exported from its module. */
export class OpDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpDefinitionError';
  }
}

/**
 * The data dir is held by a runtime in another process that this one cannot join: another user's,
 * a different version's, or one that does not answer on its socket. Nothing was written in it.
 */
export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  /** What is wrong, without the fixes. */
  readonly problem: string;

  constructor(
    readonly dataDir: string,
    /** The holder's process id, when its `runtime.json` says. */
    readonly holderPid: number | undefined,
    /** Why this process cannot join it. */
    why: string,
  ) {
    const problem = `the data dir ${dataDir} is in use by the runtime of ${holderPid === undefined ? 'another process' : `process ${holderPid}`}, which this program cannot join: ${why}`;
    super(`${problem}; set LZY_HOME (or dataDir) to another folder for a separate runtime, or run \`lzy server\` and use Lzy.connect`);
    this.name = 'DataDirInUseError';
    this.problem = problem;
  }
}
