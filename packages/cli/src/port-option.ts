import { usageError } from './cli-error.js';

/** The port a `--port` option names (0: a free one); a usage error otherwise. */
export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`bad --port ${text}`, 'a port is 0 to 65535');
  return port;
}
