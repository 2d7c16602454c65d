/** The reply of a service call: a value, or an error with a stable code. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };
