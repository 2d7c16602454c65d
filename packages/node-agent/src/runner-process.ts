import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { LineSplitter } from './output.js';
import type { OpFailure } from './protocol/failure.js';
import { RunnerChannel } from './runner-channel.js';
import { RunnerReply, type AgentToRunner, type OutputChunk, type RunnerOutcome, type RunRequest } from './runner-messages.js';

/** Which output stream of a runner a piece of text came from. */
export type Stream = 'stdout' | 'stderr';

/** What is known about how a runner process ended. */
export interface RunnerDeath {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** User code threw outside an op's promise: the error the runner reported before it left. */
  crash: OpFailure | undefined;
  /** V8 reported that the heap was exhausted. */
  outOfMemory: boolean;
  /** The last line the runner wrote on stderr, or why it could not be started. */
  lastError: string;
}

/** An attempt as a runner process sees it: what to send, then its output and how it ended. */
export interface RunnerJob {
  /** The attempt id: the runner names the job by it when it reports it finished. */
  readonly id: string;
  /** The request that runs it; asked each time it is sent (again, after a runner died before beginning it). */
  request(): RunRequest;
  /** The runner begins it: the jobs sent to it before have finished. Its run time counts from here. */
  began(runner: RunnerProcess): void;
  log(stream: Stream, text: string): void;
  /** The op returned or threw, and all output it wrote through the process streams was logged. */
  finished(outcome: RunnerOutcome): void;
  /** The process is gone while this job was the one it was running. */
  died(death: RunnerDeath): void;
}

/** What the owner of a runner hears about it. */
export interface RunnerHooks<Job extends RunnerJob> {
  /**
   * The process is gone. `held`: the jobs sent to it and not finished, in order; the first, if
   * any, was running and hears `died` right after this; the others never began.
   */
  closed(runner: RunnerProcess<Job>, death: RunnerDeath, held: Job[]): void;
  /** A job finished; its op ran `runMs` by the runner's clock (not its module's import); the runner holds one job less. */
  finished(runner: RunnerProcess<Job>, runMs: number): void;
  /** The runner gave back `jobs` (in the order sent), which it had not begun and will not run. */
  withdrawn(runner: RunnerProcess<Job>, jobs: Job[]): void;
  /** Output written while no attempt was running (e.g. by a timer an earlier attempt left). */
  stray(runner: RunnerProcess<Job>, stream: Stream, text: string): void;
}

/** Checks what comes from a runner: user code there could send anything. */
const replyCheck = TypeCompiler.Compile(RunnerReply);
const runnerMain = fileURLToPath(new URL('./runner.js', import.meta.url));
/** What runners inherit: the agent's environment without its credentials. */
const runnerEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'LZY_TOKEN' && key !== 'LZY_TOKEN_FILE' && key !== 'LZY_SERVER'));
/** After a runner exits, how long its pipes may stay open (held by a process it started) before they are cut. */
const PIPE_GRACE_MS = 1000;

/**
 * The agent's side of one runner child process. It may be sent several jobs ahead: it keeps them
 * in the order sent, and the first is the one running; the runner reports them finished in that
 * order. What reaches the runner's pipes (raw writes to file descriptors 1 and 2, Node's own fatal
 * messages) goes to the job running at the time it is read. Once the agent kills it, it takes no
 * more results: the running job ends with the process, the others go back to its owner.
 */
export class RunnerProcess<Job extends RunnerJob = RunnerJob> {
  private readonly child: ChildProcess;
  private readonly channel: RunnerChannel<unknown, AgentToRunner>;
  private readonly stdout: LineSplitter;
  private readonly stderr: LineSplitter;
  /** Jobs sent and not finished, in order; the first is running (PIPELINE_DEPTH bounds it, in the pool). */
  private jobs: Job[] = [];
  /** When the first job began (performance.now()). */
  private headSince = 0;
  /** The jobs sent behind the first were asked back, and the runner has not answered yet. */
  private withdrawing = false;
  private crash: OpFailure | undefined;
  private outOfMemory = false;
  private lastError = '';
  private killed = false;
  private closed = false;

  /** @param memoryMb the heap limit the process runs with; undefined = Node's default. */
  constructor(
    readonly memoryMb: number | undefined,
    private readonly hooks: RunnerHooks<Job>,
  ) {
    const execArgv = ['--enable-source-maps'];
    if (memoryMb !== undefined) execArgv.push(`--max-old-space-size=${memoryMb}`);
    // fd 3 (RUNNER_CHANNEL_FD in the runner) is the socket of their messages.
    this.child = spawn(process.execPath, [...execArgv, runnerMain], { env: runnerEnv, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    this.channel = new RunnerChannel(
      this.child.stdio[3] as Socket,
      (message) => this.reply(message),
      (error) => this.violation(`the runner broke its channel: ${error.message}`),
    );
    this.stdout = new LineSplitter((text) => this.output('stdout', text));
    this.stderr = new LineSplitter((text) => this.output('stderr', text));
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.stdout.push(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    this.child.once('exit', () => {
      setTimeout(() => {
        this.child.stdout!.destroy();
        this.child.stderr!.destroy();
      }, PIPE_GRACE_MS).unref();
    });
    this.child.once('close', (code, signal) => this.close(code, signal));
    this.child.on('error', (error) => {
      // Sends to a runner that just died fail too; its 'close' reports that. Only a failed start ends it here.
      if (this.child.pid === undefined) {
        this.lastError = `the runner process could not be started: ${error.message}`;
        this.close(null, null);
      }
    });
  }

  /** The process id; undefined when it could not be started. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How many jobs it holds: the running one and those sent behind it. */
  get load(): number {
    return this.jobs.length;
  }

  /** False once it was killed or is gone: it takes no more jobs. */
  get accepting(): boolean {
    return !this.killed && !this.closed;
  }

  /** How long (ms) its running job has run by `now` (performance.now()); 0 when it holds none. */
  runningFor(now: number): number {
    return this.jobs.length === 0 ? 0 : now - this.headSince;
  }

  /** Whether jobs sent behind the running one may still be asked back: some are there, and none are being asked for. */
  get canWithdraw(): boolean {
    return this.jobs.length > 1 && !this.withdrawing && this.accepting;
  }

  /** Jobs were asked back and the runner has not answered: one sent now would run before them. */
  get givingBack(): boolean {
    return this.withdrawing;
  }

  /** Whether `job` was sent to it behind the running one. */
  holdsBehind(job: Job): boolean {
    return this.jobs.indexOf(job) > 0;
  }

  /** Sends a job; it begins at once when the runner holds none, else after those sent before it. */
  run(job: Job): void {
    this.jobs.push(job);
    this.channel.send(job.request());
    if (this.jobs.length === 1) this.begin(job);
  }

  /**
   * Asks the runner to give back the jobs sent behind the running one. Those it has not begun come
   * back through the `withdrawn` hook; the others finish here as usual. A runner busy in synchronous
   * code answers once it is out of it (or never, when it is killed: then `closed` gives them back).
   */
  withdrawQueued(): void {
    if (!this.canWithdraw) return;
    this.withdrawing = true;
    this.channel.send({ type: 'withdraw', attemptIds: this.jobs.slice(1).map((job) => job.id) });
  }

  /** Kills the process at once; its running job hears `died`. */
  kill(): void {
    this.killed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private begin(job: Job): void {
    this.headSince = performance.now();
    job.began(this);
  }

  private reply(message: unknown): void {
    if (!replyCheck.Check(message)) return this.violation('the runner sent a malformed message on its channel');
    message.output.forEach(this.deliver);
    if (message.type === 'crashed') this.crash = message.failure;
    else if (this.killed) return;
    else if (message.type === 'finished') this.finished(message.attemptId, message.outcome, message.runMs);
    else if (message.type === 'withdrawn') this.withdrawn(message.attemptIds);
  }

  private withdrawn(attemptIds: string[]): void {
    if (!this.withdrawing) return this.violation('the runner gave back attempts nobody asked for');
    this.withdrawing = false;
    const given = new Set(attemptIds);
    const behind = this.jobs.slice(1);
    // Checked before anything is taken: on a violation, every job it holds goes back through `closed`.
    const stray = attemptIds.find((attemptId) => !behind.some((job) => job.id === attemptId));
    if (stray !== undefined) return this.violation(`the runner gave back attempt ${stray}, which ${this.jobs[0]?.id === stray ? 'it was running' : 'it did not hold'}`);
    if (given.size === 0) return;
    const taken = behind.filter((job) => given.has(job.id));
    this.jobs = [this.jobs[0]!, ...behind.filter((job) => !given.has(job.id))];
    this.hooks.withdrawn(this, taken);
  }

  private finished(attemptId: string, outcome: RunnerOutcome, runMs: number): void {
    const job = this.jobs[0];
    if (job?.id !== attemptId) {
      return this.violation(`the runner reported attempt ${attemptId} finished while ${job ? `attempt ${job.id} was running` : 'it ran none'}`);
    }
    this.jobs.shift();
    job.finished(outcome);
    const next = this.jobs[0];
    if (next) this.begin(next);
    this.hooks.finished(this, runMs);
  }

  /** The runner broke the protocol: it is killed, as user code there may have written anything. */
  private violation(reason: string): void {
    this.lastError = reason;
    this.kill();
  }

  /** Output of the running job goes to it; output of a job that began after the agent killed the runner is dropped. */
  private readonly deliver = (chunk: OutputChunk): void => {
    const job = this.jobs[0];
    if (job && chunk.attemptId === job.id) job.log(chunk.stream, chunk.text);
    else if (!this.killed) this.hooks.stray(this, chunk.stream, chunk.text);
  };

  private output(stream: Stream, text: string): void {
    if (stream === 'stderr') {
      if (text.includes('heap out of memory')) this.outOfMemory = true;
      const line = text.trimEnd();
      if (line.length > 0) this.lastError = line.slice(line.lastIndexOf('\n') + 1).slice(0, 500);
    }
    const job = this.jobs[0];
    if (job) job.log(stream, text);
    else this.hooks.stray(this, stream, text);
  }

  private close(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.closed) return;
    this.closed = true;
    this.stdout.flush();
    this.stderr.flush();
    const held = this.jobs;
    this.jobs = [];
    const death: RunnerDeath = { code, signal, crash: this.crash, outOfMemory: this.outOfMemory, lastError: this.lastError };
    this.hooks.closed(this, death, held);
    held[0]?.died(death);
  }
}
