import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './cli-error.js';

/** What `lzy login` keeps: a client of a shared runtime's issuer. */
export interface StoredCredentials {
  readonly endpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** `$XDG_CONFIG_HOME/lzy/credentials.json`, by default `~/.config/lzy/credentials.json`. */
export function credentialsPath(): string {
  const config = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(config, 'lzy', 'credentials.json');
}

/** Writes the credentials so that only this user may read them (mode 0600, in a folder of mode 0700). */
export function writeCredentials(credentials: StoredCredentials): string {
  const file = credentialsPath();
  const dir = join(file, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
  return file;
}

/** The stored credentials, or undefined when there are none; a file that is not ours is an error naming it. */
export function readCredentials(): StoredCredentials | undefined {
  const file = credentialsPath();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const { endpoint, clientId, clientSecret } = (value ?? {}) as Record<string, unknown>;
  if (typeof endpoint !== 'string' || typeof clientId !== 'string' || typeof clientSecret !== 'string') {
    throw new CliError(`${file} is not credentials that \`lzy login\` wrote`, 'run `lzy login --client-id ID --client-secret SECRET --endpoint URL` again');
  }
  return { endpoint, clientId, clientSecret };
}
