/** Exit codes of `lzy`; `refused`: the server would not let `lzy agent` join. */
export const EXIT = { ok: 0, failure: 1, usage: 2, refused: 3 } as const;

/** A failure to report as one line plus a hint, with its exit code; no stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint: string | undefined,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The command line itself is wrong. */
export function usageError(message: string, hint: string): CliError {
  return new CliError(message, hint, EXIT.usage);
}
