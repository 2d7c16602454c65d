import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { usageError } from './cli-error.js';

/** The levels `--log-level` takes, the quietest last. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** A usage error unless `level` is one of `LOG_LEVELS`. */
export function checkLogLevel(level: string): void {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw usageError(`bad --log-level ${level}`, `one of ${LOG_LEVELS.join(', ')}`);
}

/** Fields no line may show, whatever a caller logs by mistake. */
const REDACTED = ['token', '*.token', 'secret', '*.secret', 'clientSecret', '*.clientSecret', 'authorization', '*.authorization', 'password', '*.password'];

/**
 * The log of `lzy server` at `level`, on stderr: JSON lines (pino), or readable lines when stderr is
 * a terminal (pino-pretty). Written synchronously, so nothing is lost when the server exits.
 */
export function serverLogger(level: string): Logger {
  checkLogLevel(level);
  const options = { level, base: { service: 'lzy-server', pid: process.pid }, redact: { paths: REDACTED, censor: '[redacted]' } };
  return pino(options, prettyOnTerminal(process.stderr) ?? pino.destination({ fd: 2, sync: true }));
}

/**
 * Where JSON log lines meant for stderr go when it is a terminal (`stderr.isTTY`): a stream that
 * writes each as a readable line there (pino-pretty; a line that is not JSON, as a crash's trace,
 * as it is). `undefined` otherwise: the JSON lines go to stderr as they are.
 */
export function prettyOnTerminal(stderr: { readonly isTTY?: boolean }): NodeJS.WritableStream | undefined {
  return stderr.isTTY ? PinoPretty({ destination: 2, sync: true, colorize: true }) : undefined;
}
