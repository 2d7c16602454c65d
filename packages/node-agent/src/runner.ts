// A runner: the child process in which the node-agent runs op attempts, one at a time, isolated
// from the agent. Started by the agent with a socket on fd 3 for their messages (RunnerChannel);
// reused for many attempts. The agent may send several attempts ahead: they wait here and run one
// after another in the order sent. What user code writes to process.stdout/stderr goes back over
// the channel, tagged with its attempt.
import { writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { thrownFailure, failure } from './failures.js';
import { localPathOf, LzyFile } from './lzy-file.js';
import { decodeValue, encodeValue, refFor } from './protocol/data.js';
import type { OpFailure } from './protocol/failure.js';
import { RUNNER_CHANNEL_FD, RunnerChannel } from './runner-channel.js';
import type { AgentToRunner, RunnerOutcome, RunnerReply, RunRequest } from './runner-messages.js';
import { OutputCapture } from './runner-output.js';

type OpFn = (...args: unknown[]) => unknown;

const OP = Symbol.for('lzy.op');
// Leave with the agent: when its end of the channel closes.
const channel = new RunnerChannel<AgentToRunner, RunnerReply>(
  new Socket({ fd: RUNNER_CHANNEL_FD, readable: true, writable: true }),
  (message) => (message.type === 'run' ? enqueue(message) : withdraw(message.attemptIds)),
  (error) => {
    writeSync(2, `lzy runner: the agent sent a bad message (${error.message}); exiting\n`);
    process.exit(71);
  },
  () => process.exit(0),
);
const send = (reply: RunnerReply) => channel.send(reply);
const output = new OutputCapture((chunks) => send({ type: 'output', output: chunks }));
output.install();

/** Ops resolved so far, by `module#export`: a reused runner looks an op up once. */
const ops = new Map<string, OpFn>();
/** Attempts sent and not begun, in the order sent; the agent sends at most a few ahead (PIPELINE_DEPTH). */
const queued: RunRequest[] = [];
let running = false;
let crashed = false;

class BadOp extends Error {
  override readonly name = 'BadOpError';
}

/** Imports the op: from its bundle on this node when there is one, else from its module's URL. */
async function loadOp(request: RunRequest): Promise<OpFn> {
  const { module, file, exportName } = request;
  const source = file === undefined ? module : `${module} (shipped as ${file})`;
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(file ?? module)) as Record<string, unknown>;
  } catch (error) {
    throw new BadOp(
      `cannot import op module ${source} (export '${exportName}'): ${(error as Error)?.message ?? String(error)}. ` +
        (file === undefined
          ? 'Fix: the module must exist at that URL on the node and load without throwing.'
          : 'Fix: the module must load without throwing, and packages left out of its bundle (native addons) must resolve from a node_modules above the node-agent\'s bundle cache (on a host of static agents: `lzy agent --node-modules DIR`).'),
    );
  }
  if (!(exportName in namespace)) {
    const names = Object.keys(namespace).slice(0, 20).join(', ') || 'nothing';
    throw new BadOp(`module ${source} has no export '${exportName}' (it exports ${names}). Fix: export the op under that name.`);
  }
  const exported = namespace[exportName];
  const marked = (exported as { [OP]?: { fn?: unknown } } | null | undefined)?.[OP]?.fn;
  const fn = marked ?? exported;
  if (typeof fn !== 'function') {
    throw new BadOp(
      `export '${exportName}' of ${source} is ${fn === null ? 'null' : `a ${typeof fn}`}, not an op or a function. ` +
        "Fix: export a function or the value op(...) returns, or an object with [Symbol.for('lzy.op')]: { fn }.",
    );
  }
  ops.set(keyOf(request), fn as OpFn);
  return fn as OpFn;
}

/** Ops are remembered by what was imported: a new bundle of a module is a new op. */
function keyOf(request: RunRequest): string {
  return `${request.file ?? request.module}#${request.exportName}`;
}

/** Sets the attempt's environment; returns what puts the previous one back. */
function applyEnv(env: Record<string, string>): (() => void) | undefined {
  const keys = Object.keys(env);
  if (keys.length === 0) return undefined;
  const previous = keys.map((key) => process.env[key]);
  for (const key of keys) process.env[key] = env[key];
  return () =>
    keys.forEach((key, i) => {
      const value = previous[i];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    });
}

/** How the attempt ended, and how long its op's function ran (ms; 0 when it was not called). */
async function execute(request: RunRequest): Promise<{ outcome: RunnerOutcome; runMs: number }> {
  let fn: OpFn;
  let args: unknown[];
  try {
    fn = ops.get(keyOf(request)) ?? (await loadOp(request));
  } catch (error) {
    return { outcome: { ok: false, failure: failure('BAD_OP', 'BadOpError', (error as Error).message) }, runMs: 0 };
  }
  try {
    args = request.args.map((arg) => (arg instanceof Uint8Array ? decodeValue(arg) : LzyFile.stored(arg.ref, arg.path)));
  } catch (error) {
    return { outcome: { ok: false, failure: failure('BAD_INPUT', 'BadInputError', `an argument cannot be decoded: ${(error as Error).message}`) }, runMs: 0 };
  }
  const began = performance.now();
  let value: unknown;
  try {
    value = await fn(...args);
  } catch (error) {
    return { outcome: { ok: false, failure: thrownFailure('USER_ERROR', error) }, runMs: performance.now() - began };
  }
  return { outcome: resultOf(value), runMs: performance.now() - began };
}

/** The outcome of an op that returned `value`. */
function resultOf(value: unknown): RunnerOutcome {
  const file = localPathOf(value);
  if (file !== null) {
    if (file === undefined) return { ok: false, failure: failure('USER_ERROR', 'ResultEncodingError', `the op returned ${String(value)}, a file that is not on this node`) };
    return { ok: true, file };
  }
  let bytes: Buffer;
  try {
    bytes = encodeValue(value);
  } catch (error) {
    return { ok: false, failure: failure('USER_ERROR', 'ResultEncodingError', `the op's result cannot be encoded: ${(error as Error).message}`) };
  }
  const result = refFor(bytes);
  return result.inline ? { ok: true, result } : { ok: true, result, bytes };
}

function enqueue(request: RunRequest): void {
  queued.push(request);
  if (!running) void runQueued();
}

/** Takes back the attempts of `attemptIds` that have not begun, and tells the agent which. */
function withdraw(attemptIds: string[]): void {
  const asked = new Set(attemptIds);
  const taken: string[] = [];
  for (let i = queued.length - 1; i >= 0; i--) {
    if (!asked.has(queued[i]!.attemptId)) continue;
    taken.unshift(queued[i]!.attemptId);
    queued.splice(i, 1);
  }
  send({ type: 'withdrawn', attemptIds: taken, output: [] });
}

/**
 * Runs the queued attempts one after another. Each `finished` is handed to the OS before the next
 * attempt begins (at once, unless the socket is backed up: a large result, or an agent that is
 * behind), so if that one never returns (a busy loop), the agent already has the results before
 * it and blames the right attempt. The next attempt counts as begun from the moment the one before
 * it is reported finished, as the agent counts it: it can no longer be taken back.
 */
async function runQueued(): Promise<void> {
  running = true;
  for (let request = queued.shift(); request !== undefined; ) {
    const restore = applyEnv(request.env);
    output.begin(request.attemptId);
    const { outcome, runMs } = await execute(request);
    restore?.();
    if (crashed) return;
    send({ type: 'finished', attemptId: request.attemptId, outcome, output: output.end(), runMs });
    request = queued.shift();
    await channel.flushNow();
  }
  running = false;
}

/** User code threw outside the op's promise (a timer, an unawaited rejection): fail the attempt and leave. */
function crash(thrown: unknown): void {
  if (crashed) return;
  crashed = true;
  let reported: OpFailure;
  try {
    reported = thrownFailure('USER_ERROR', thrown);
  } catch {
    reported = failure('USER_ERROR', 'Error', 'user code threw a value that cannot be described');
  }
  send({ type: 'crashed', failure: reported, output: output.end() });
  void channel.flushNow().then(() => process.exit(70));
}
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

// Leave with the agent when it is gone and this process was re-parented.
const agentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== agentPid) process.exit(0);
}, 1000).unref();
