import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { LineSplitter } from './output.js';
import type { OpFailure } from './protocol/failure.js';
import { RunnerChannel } from './runner-channel.js';
import { RunnerReply, type OutputChunk, type RunnerOutcome, type RunRequest } from './runner-messages.js';

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

/** The attempt a runner is running: hears its output and how it ended. */
export interface RunnerJob {
  log(stream: Stream, text: string): void;
  /** The op returned or threw, and all output it wrote through the process streams was logged. */
  finished(outcome: RunnerOutcome): void;
  /** The process is gone first. */
  died(death: RunnerDeath): void;
}

/** What the owner of a runner hears about it. */
export interface RunnerHooks {
  /** The process is gone; called before its job (if it was busy) hears `died`. */
  closed(runner: RunnerProcess, death: RunnerDeath, wasBusy: boolean): void;
  /** Output written while no attempt was running (e.g. by a timer an earlier attempt left). */
  stray(runner: RunnerProcess, stream: Stream, text: string): void;
}

/** Checks what comes from a runner: user code there could send anything. */
const replyCheck = TypeCompiler.Compile(RunnerReply);
const runnerMain = fileURLToPath(new URL('./runner.js', import.meta.url));
/** What runners inherit: the agent's environment without its credentials. */
const runnerEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'LZY_TOKEN' && key !== 'LZY_SERVER'));
/** After a runner exits, how long its pipes may stay open (held by a process it started) before they are cut. */
const PIPE_GRACE_MS = 1000;

/**
 * The agent's side of one runner child process: sends it attempts and hands its job the output
 * and outcome the runner reports over IPC. What reaches the runner's pipes (raw writes to file
 * descriptors 1 and 2, Node's own fatal messages) goes to the job running at the time it is read.
 */
export class RunnerProcess {
  private readonly child: ChildProcess;
  private readonly channel: RunnerChannel<unknown, RunRequest>;
  private readonly stdout: LineSplitter;
  private readonly stderr: LineSplitter;
  private job: RunnerJob | undefined;
  private attemptId = '';
  private crash: OpFailure | undefined;
  private outOfMemory = false;
  private lastError = '';
  private closed = false;

  /** @param memoryMb the heap limit the process runs with; undefined = Node's default. */
  constructor(
    readonly memoryMb: number | undefined,
    private readonly hooks: RunnerHooks,
  ) {
    const execArgv = ['--enable-source-maps'];
    if (memoryMb !== undefined) execArgv.push(`--max-old-space-size=${memoryMb}`);
    // fd 3 (RUNNER_CHANNEL_FD in the runner) is the socket of their messages.
    this.child = spawn(process.execPath, [...execArgv, runnerMain], { env: runnerEnv, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    this.channel = new RunnerChannel(
      this.child.stdio[3] as Socket,
      (message) => this.reply(message),
      (error) => {
        this.lastError = `the runner broke its channel: ${error.message}`;
        this.kill();
      },
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

  /** Starts an attempt; the runner must be idle. */
  run(request: RunRequest, job: RunnerJob): void {
    this.job = job;
    this.attemptId = request.attemptId;
    this.channel.send(request);
  }

  /** Kills the process at once; its job hears `died`. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private reply(message: unknown): void {
    if (!replyCheck.Check(message)) {
      this.lastError = 'the runner sent a malformed message on its channel';
      this.kill();
      return;
    }
    message.output.forEach(this.deliver);
    if (message.type === 'crashed') this.crash = message.failure;
    else if (message.type === 'finished' && this.job && message.attemptId === this.attemptId) {
      const job = this.job;
      this.job = undefined;
      job.finished(message.outcome);
    }
  }

  private readonly deliver = (chunk: OutputChunk): void => {
    if (this.job && chunk.attemptId === this.attemptId) this.job.log(chunk.stream, chunk.text);
    else this.hooks.stray(this, chunk.stream, chunk.text);
  };

  private output(stream: Stream, text: string): void {
    if (stream === 'stderr') {
      if (text.includes('heap out of memory')) this.outOfMemory = true;
      const line = text.trimEnd();
      if (line.length > 0) this.lastError = line.slice(line.lastIndexOf('\n') + 1).slice(0, 500);
    }
    if (this.job) this.job.log(stream, text);
    else this.hooks.stray(this, stream, text);
  }

  private close(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.closed) return;
    this.closed = true;
    this.stdout.flush();
    this.stderr.flush();
    const job = this.job;
    this.job = undefined;
    const death: RunnerDeath = { code, signal, crash: this.crash, outOfMemory: this.outOfMemory, lastError: this.lastError };
    this.hooks.closed(this, death, job !== undefined);
    job?.died(death);
  }
}
