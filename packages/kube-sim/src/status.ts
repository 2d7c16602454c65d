// API errors as the Kubernetes API server reports them: a `Status` object with a reason and code.
import type { JsonObject } from './json.js';

/** The `reason` values of the Status objects this server answers with. */
export type StatusReason =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'Expired'
  | 'BadRequest'
  | 'UnsupportedMediaType'
  | 'MethodNotAllowed'
  | 'TooManyRequests'
  | 'InternalError';

const CODES: Record<StatusReason, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  Expired: 410,
  BadRequest: 400,
  UnsupportedMediaType: 415,
  MethodNotAllowed: 405,
  TooManyRequests: 429,
  InternalError: 500,
};

/** What an API error names: the resource and object it concerns, and for `Invalid` each bad field. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: Array<{ reason: string; message: string; field: string }>;
}

/** An API request that fails; the server answers it with `toStatus()` and `code`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: number;
  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.code = CODES[reason];
  }

  /** The `Status` object sent as the body of the error reply (and in a watch's ERROR event). */
  toStatus(): JsonObject {
    const status: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.details) status.details = JSON.parse(JSON.stringify(this.details)) as JsonObject;
    return status;
  }
}

/** One field that fails validation: where it is and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/** The 422 `Invalid` error for `kind` `name` with its field errors, worded as the real server does. */
export function invalid(kind: string, name: string, errors: FieldError[], group = ''): ApiError {
  const text = errors.map((e) => `${e.field}: ${e.message}`).join(', ');
  return new ApiError('Invalid', `${kind} "${name}" is invalid: ${text}`, {
    name,
    group,
    kind,
    causes: errors.map((e) => ({ reason: 'FieldValueInvalid', message: e.message, field: e.field })),
  });
}

/** The `Status` of a successful delete of a resource with no object to return. */
export function successStatus(): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 };
}
