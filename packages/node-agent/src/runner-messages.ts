import { Type, type Static } from '@sinclair/typebox';
import { DataRef } from './protocol/data.js';
import { OpFailure } from './protocol/failure.js';

/** Agent → runner over IPC: run one attempt. A runner runs one attempt at a time. */
export interface RunRequest {
  type: 'run';
  attemptId: string;
  module: string;
  exportName: string;
  /** Each argument's encoded bytes, checked already. */
  args: Uint8Array[];
  env: Record<string, string>;
}

const RunnerOutcome = Type.Union([
  /** `bytes`: the encoded result, present only when it is too large to travel inline in `result`. */
  Type.Object({ ok: Type.Literal(true), result: DataRef, bytes: Type.Optional(Type.Uint8Array()) }),
  Type.Object({ ok: Type.Literal(false), failure: OpFailure }),
]);
/** How the op of an attempt ended, as its runner saw it. */
export type RunnerOutcome = Static<typeof RunnerOutcome>;

/**
 * Runner → agent over IPC. `finished`: the attempt's op returned or threw, sent after the runner
 * wrote the end marker on stdout and stderr (`fenced` says on which: not on a stream user code
 * closed); `crashed`: user code threw outside the op's promise, and the runner exits right after.
 */
export const RunnerReply = Type.Union([
  Type.Object({
    type: Type.Literal('finished'),
    attemptId: Type.String(),
    outcome: RunnerOutcome,
    fenced: Type.Object({ stdout: Type.Boolean(), stderr: Type.Boolean() }),
  }),
  Type.Object({ type: Type.Literal('crashed'), failure: OpFailure }),
]);
/** A message from a runner to its agent. */
export type RunnerReply = Static<typeof RunnerReply>;

/**
 * Written by the runner on stdout and on stderr after each attempt, so the agent knows where one
 * attempt's output ends even though the pipes and the IPC channel are read independently.
 */
export function endMarker(nonce: string): string {
  return `\u0000lzy-attempt-end:${nonce};`;
}
