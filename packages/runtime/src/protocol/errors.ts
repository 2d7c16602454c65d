/** A failed call to the runtime, with the service's stable error code (e.g. `NOT_FOUND`, `FORBIDDEN`). */
export class RuntimeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}
