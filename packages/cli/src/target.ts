import { Option, type Command } from 'commander';
import type { Role, RuntimeConnection } from '@lzy/runtime';
import { DataDirInUseError, openLocalRuntime, RemoteConnection } from '@lzy/sdk';
import { CliError, usageError } from './cli-error.js';
import { readCredentials } from './credentials-file.js';

/** Options every client command takes. */
export interface TargetOptions {
  endpoint?: string;
  token?: string;
}

/** Where a client command acts: a shared runtime, or the embedded one under `./.lzy`. */
export interface Target {
  readonly connection: RuntimeConnection;
  /** The connection to a shared runtime; `undefined` for the embedded one, which has only its local admin. */
  readonly remote: RemoteConnection | undefined;
  /** A new token for `tenant`: through the server (admins, or the tenant's owners), or straight from the embedded runtime. */
  issueToken(tenant: string, role: Role): Promise<string>;
  /** A new join token of a static pool, for `lzy agent`: only a shared runtime has agents that join. */
  issueJoinToken(pool: string): Promise<string>;
  close(): Promise<void>;
}

/** Adds `--endpoint` and `--token` (or `LZY_ENDPOINT`, `LZY_TOKEN`) to a client command. */
export function withTarget(command: Command): Command {
  return command
    .addOption(new Option('--endpoint <url>', 'a shared runtime, ws://HOST:PORT; default: the embedded runtime under ./.lzy').env('LZY_ENDPOINT'))
    .addOption(new Option('--token <token>', 'your token for the shared runtime').env('LZY_TOKEN'));
}

/** Connects to the shared runtime the options name, for `what` (roles, clients, keys), which the embedded runtime does not have. */
export async function openRemoteTarget(options: TargetOptions, what: string): Promise<Target & { readonly remote: RemoteConnection }> {
  if (!options.endpoint && !readCredentials()) throw notShared(what);
  const target = await openTarget(options);
  return { ...target, remote: remoteOf(target, what) };
}

/** The shared runtime's connection of `target`, for `what`; a usage error for the embedded runtime. */
export function remoteOf(target: Target, what: string): RemoteConnection {
  if (target.remote) return target.remote;
  throw notShared(what);
}

function notShared(what: string): CliError {
  return usageError(`${what} is for a shared runtime; the embedded one has only its local admin`, 'pass --endpoint ws://HOST:PORT of `lzy server` and your token');
}

/**
 * Connects to the runtime the options name. Without a token, the credentials of `lzy login` are
 * used for the endpoint they were stored for (and name it when no endpoint is given).
 */
export async function openTarget(options: TargetOptions): Promise<Target> {
  // An empty LZY_ENDPOINT or LZY_TOKEN counts as unset.
  const stored = options.token ? undefined : readCredentials();
  const login = stored && (!options.endpoint || options.endpoint === stored.endpoint) ? stored : undefined;
  const endpoint = options.endpoint || login?.endpoint;
  if (!endpoint) return embedded();
  if (!options.token && !login) {
    throw usageError(
      `a token is needed to use the runtime at ${endpoint}`,
      'pass --token TOKEN or set LZY_TOKEN, or log in with `lzy login --client-id ID --client-secret SECRET --endpoint URL`',
    );
  }
  const credential = login ? { clientId: login.clientId, clientSecret: login.clientSecret } : { token: options.token! };
  const connection = await RemoteConnection.open({ endpoint, ...credential, connectTimeoutMs: 5_000 }).catch((error: unknown) => {
    throw explainConnectError(error as Error & { code?: string }, endpoint);
  });
  return {
    connection,
    remote: connection,
    issueToken: (tenant, role) => connection.issueToken(tenant, role),
    issueJoinToken: (pool) => connection.issueJoinToken(pool),
    close: () => connection.close(),
  };
}

/** The embedded runtime of `./.lzy` (`LZY_HOME`): started here, or the one a program running in the folder already runs. */
async function embedded(): Promise<Target> {
  const local = await openLocalRuntime().catch((error: unknown) => {
    if (!(error instanceof DataDirInUseError)) throw error;
    throw new CliError(
      error.problem,
      'set LZY_HOME to another folder for a separate runtime, or run `lzy server` and pass --endpoint',
    );
  });
  return {
    connection: local.connection,
    remote: undefined,
    issueToken: (tenant, role) => local.issueToken(tenant, role),
    issueJoinToken: () => {
      throw usageError('join tokens are for the static pools of a shared runtime', 'pass --endpoint ws://HOST:PORT of `lzy server` and its admin token');
    },
    close: () => local.close(),
  };
}

function explainConnectError(error: Error & { code?: string }, endpoint: string): Error {
  switch (error.code) {
    case 'UNAUTHENTICATED':
      return new CliError(error.message, 'check --token or LZY_TOKEN; an admin issues tokens with `lzy token create --tenant NAME`');
    case 'UNREACHABLE':
      return new CliError(error.message, `is \`lzy server\` running there? check --endpoint or LZY_ENDPOINT (now ${endpoint})`);
    case 'BAD_ENDPOINT':
      return usageError(error.message, 'pass --endpoint ws://HOST:PORT or set LZY_ENDPOINT');
    default:
      return error;
  }
}
