import { Type, type Static } from '@sinclair/typebox';
import { DataRef, type FileRef } from './protocol/data.js';
import { OpFailure } from './protocol/failure.js';

/** Agent → runner over IPC: run one attempt. A runner runs one attempt at a time: those sent ahead wait, in the order sent. */
export interface RunRequest {
  type: 'run';
  attemptId: string;
  /** The op's module as the client named it: for messages, and imported when there is no `file`. */
  module: string;
  /** The `file:` URL of the module's bundle on this node: what is imported when present. */
  file?: string;
  exportName: string;
  /** Each argument's encoded bytes, checked already; a file argument's ref and where it is on this node. */
  args: Array<Uint8Array | FileArg>;
  env: Record<string, string>;
}

/** Agent → runner: take back those of these attempts that have not begun (they will run elsewhere). */
export interface WithdrawRequest {
  type: 'withdraw';
  attemptIds: string[];
}

/** A message from an agent to its runner. */
export type AgentToRunner = RunRequest | WithdrawRequest;

/** A file argument of an attempt: fetched whole and checked, at `path` on this node. */
export interface FileArg {
  ref: FileRef;
  path: string;
}

const RunnerOutcome = Type.Union([
  /** `bytes`: the encoded result, present only when it is too large to travel inline in `result`. */
  Type.Object({ ok: Type.Literal(true), result: DataRef, bytes: Type.Optional(Type.Uint8Array()) }),
  /** The op returned a file value: the file at `file` on this node, which the agent stores. */
  Type.Object({ ok: Type.Literal(true), file: Type.String({ minLength: 1 }) }),
  Type.Object({ ok: Type.Literal(false), failure: OpFailure }),
]);
/** How the op of an attempt ended, as its runner saw it. */
export type RunnerOutcome = Static<typeof RunnerOutcome>;

const OutputChunk = Type.Object({
  /** The attempt that wrote it; null for output written between attempts (e.g. by a timer an earlier attempt left). */
  attemptId: Type.Union([Type.String(), Type.Null()]),
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  text: Type.String(),
});
/** Text user code wrote through `process.stdout` / `process.stderr` (so `console` too), cut at line ends. */
export type OutputChunk = Static<typeof OutputChunk>;

/**
 * Runner → agent over IPC. `output`: what user code wrote lately; `finished`: the attempt's op
 * returned or threw, with the rest of its output (everything it wrote comes before this) and how
 * long its function ran, in ms (not its module's import);
 * `withdrawn`: the attempts it took back, of those the agent asked for, which it will not run (those
 * it had begun are not among them); `crashed`: user code threw outside an op's promise, and the
 * runner exits right after.
 */
export const RunnerReply = Type.Union([
  Type.Object({ type: Type.Literal('output'), output: Type.Array(OutputChunk) }),
  Type.Object({ type: Type.Literal('finished'), attemptId: Type.String(), outcome: RunnerOutcome, output: Type.Array(OutputChunk), runMs: Type.Number({ minimum: 0 }) }),
  Type.Object({ type: Type.Literal('withdrawn'), attemptIds: Type.Array(Type.String()), output: Type.Array(OutputChunk) }),
  Type.Object({ type: Type.Literal('crashed'), failure: OpFailure, output: Type.Array(OutputChunk) }),
]);
/** A message from a runner to its agent. */
export type RunnerReply = Static<typeof RunnerReply>;
