import { parseArgs } from 'node:util';
import { AGENT_LOG_LEVELS, type AgentLogLevel } from './agent-log.js';

/** How the agent was asked to run, from its command line and environment. */
export interface AgentOptions {
  /** The runtime gateway, `ws://host:port` or `wss://…`. */
  server: string;
  /**
   * What the agent proves itself with: a one-time registration token (or with `pool` the pool's
   * join token), or the file of a Kubernetes pod's projected ServiceAccount token, read again at
   * each connection since the kubelet rotates it.
   */
  credential: { token: string } | { tokenFile: string };
  /** Where a Kubernetes agent runs (its pod and node), for its diagnostics. */
  pod?: string;
  /** The static pool this agent joins (an agent of `lzy agent`); absent for a node the runtime started. */
  pool?: string;
  /** How many attempts run at once, each in its own runner process. */
  slots: number;
  heartbeatMs: number;
  /**
   * Where fetched op-module bundles are kept; default a temporary directory of the agent, removed
   * when it exits. Packages a bundle leaves out (those with native addons) are found by Node's
   * rules from here: put it under a directory whose `node_modules` has them.
   */
  cacheDir?: string;
  /** JSON log lines on stderr at this level; without it, plain warnings only. */
  logLevel?: AgentLogLevel;
}

/** A command line the agent cannot run with; `main` prints it and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The one-line synopsis printed with a usage error. */
export const USAGE =
  'usage: lzy-node-agent --server ws://HOST:PORT (--token TOKEN | --token-file FILE) --slots N [--pool NAME] [--heartbeat-ms MS] [--cache-dir DIR] [--log-level LEVEL] (or env LZY_SERVER, LZY_TOKEN, LZY_TOKEN_FILE, LZY_SLOTS, LZY_CACHE_DIR, LZY_LOG_LEVEL)';

/** Reads the options from `argv` (without node and the script) and `env`; throws `UsageError` when they are wrong. */
export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv): AgentOptions {
  let values: {
    server?: string | undefined;
    token?: string | undefined;
    'token-file'?: string | undefined;
    slots?: string | undefined;
    pool?: string | undefined;
    'heartbeat-ms'?: string | undefined;
    'cache-dir'?: string | undefined;
    'log-level'?: string | undefined;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        server: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        slots: { type: 'string' },
        pool: { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        'cache-dir': { type: 'string' },
        'log-level': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const server = values.server ?? env.LZY_SERVER;
  if (!server) throw new UsageError('--server is required (or env LZY_SERVER)');
  if (!/^wss?:\/\/[^/\s]+/.test(server)) throw new UsageError(`--server must be a ws:// or wss:// URL, got '${server}'`);
  const token = values.token ?? env.LZY_TOKEN;
  const tokenFile = values['token-file'] ?? env.LZY_TOKEN_FILE;
  if (!token && !tokenFile) throw new UsageError('--token is required (or --token-file, or env LZY_TOKEN or LZY_TOKEN_FILE)');
  if (token && tokenFile) throw new UsageError('give --token or --token-file, not both');
  const slots = values.slots ?? env.LZY_SLOTS;
  if (slots === undefined) throw new UsageError('--slots is required (or env LZY_SLOTS)');
  if (tokenFile && values.pool !== undefined) throw new UsageError('--pool joins a static pool with its join token (--token), not a token file');
  if (values.pool !== undefined && !/^[a-z0-9][a-z0-9._-]{0,62}$/.test(values.pool)) {
    throw new UsageError(`--pool must be a pool name (lowercase letters, digits, . _ -), got '${values.pool}'`);
  }
  const cacheDir = values['cache-dir'] ?? env.LZY_CACHE_DIR;
  if (cacheDir === '') throw new UsageError('--cache-dir must not be empty');
  const logLevel = values['log-level'] ?? env.LZY_LOG_LEVEL;
  if (logLevel !== undefined && !(AGENT_LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level must be one of ${AGENT_LOG_LEVELS.join(', ')}, got '${logLevel}'`);
  const pod = env.LZY_POD_NAME ? `pod ${env.LZY_POD_NAMESPACE ?? 'default'}/${env.LZY_POD_NAME} on node ${env.LZY_NODE_NAME ?? '?'}` : undefined;
  return {
    server,
    credential: token ? { token } : { tokenFile: tokenFile! },
    ...(values.pool === undefined ? {} : { pool: values.pool }),
    ...(cacheDir === undefined ? {} : { cacheDir }),
    ...(pod === undefined ? {} : { pod }),
    ...(logLevel === undefined ? {} : { logLevel: logLevel as AgentLogLevel }),
    slots: integer('--slots', slots, 1, 1024),
    heartbeatMs: values['heartbeat-ms'] === undefined ? 1000 : integer('--heartbeat-ms', values['heartbeat-ms'], 10, 3_600_000),
  };
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got '${text}'`);
  return value;
}
