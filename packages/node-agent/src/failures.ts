import type { OpFailure } from './protocol/failure.js';

/** Why an attempt failed; `OpFailure.code` is one of these. */
export type FailureCode =
  | 'USER_ERROR'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'OUT_OF_MEMORY'
  | 'PROCESS_EXITED'
  | 'NODE_LOST'
  | 'BAD_OP'
  | 'WRONG_TENANT'
  | 'BAD_INPUT'
  | 'STORAGE_ERROR'
  | 'STORAGE_QUOTA_EXCEEDED';

const MAX_NAME = 256;
/** Longest message or stack sent: a user's huge error must not exceed a frame and cut the agent off. */
const MAX_TEXT = 64 * 1024;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** An `OpFailure` with texts cut to sizes the wire accepts; `BAD_OP` and a full storage quota are not worth retrying. */
export function failure(code: FailureCode, name: string, message: string, stack?: string): OpFailure {
  const retryable = code !== 'BAD_OP' && code !== 'STORAGE_QUOTA_EXCEEDED';
  const result: OpFailure = { code, name: clip(name, MAX_NAME), message: clip(message, MAX_TEXT), retryable };
  if (stack !== undefined) result.stack = clip(stack, MAX_TEXT);
  return result;
}

/** The failure for a value user code threw: its name, message and stack as they were. */
export function thrownFailure(code: FailureCode, thrown: unknown): OpFailure {
  if (thrown instanceof Error) {
    return failure(code, String(thrown.name), String(thrown.message), typeof thrown.stack === 'string' ? thrown.stack : undefined);
  }
  const name = typeof thrown === 'object' && thrown !== null && typeof (thrown as { name?: unknown }).name === 'string' ? (thrown as { name: string }).name : 'Error';
  let message: string;
  try {
    message = typeof thrown === 'string' ? thrown : `a non-Error value was thrown: ${String(thrown)}`;
  } catch {
    message = 'a non-Error value was thrown';
  }
  return failure(code, name, message);
}
