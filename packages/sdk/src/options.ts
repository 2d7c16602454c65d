/** What a user may say about an op. */
export interface OpOptions {
  /** Cores one call needs. */
  cpu?: number;
  gpu?: number;
  /** Memory one call may use: a number of MiB or `'512Mi'`, `'2Gi'`, `'300M'`. The op's heap is limited to it. */
  memory?: number | string;
  /** The node pool to run in; default the runtime's first pool. */
  pool?: string;
  /** Reuse the result of an earlier call with the same inputs, version and code. */
  cache?: boolean;
  /** Part of the cache key: change it to drop cached results on purpose. */
  version?: string;
  /** Retries after a failed attempt: a count, or `{ max, backoff }` (ms or `'2s'`, doubled each retry). */
  retries?: number | { max: number; backoff?: number | string };
  /** Kill an attempt that runs longer: ms or `'30s'`, `'5m'`. */
  timeout?: number | string;
  /** Environment variables of the op's process. */
  env?: Record<string, string>;
}

/** Options after checking, in the units the runtime takes. */
export interface ResolvedOpOptions {
  cpu?: number;
  memoryMb?: number;
  pool?: string;
  cache: boolean;
  version: string;
  retries: { max: number; backoffMs: number };
  timeoutMs?: number;
  env: Record<string, string>;
}

const UNITS: Record<string, number> = { '': 1, Mi: 1, M: 1_000_000 / 1_048_576, Gi: 1024, G: 1_000_000_000 / 1_048_576 };

/** Parses `512Mi`, `2Gi`, `300M`, or a number of MiB. */
export function parseMemory(value: number | string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return Math.ceil(value);
    throw new RangeError(`memory must be a positive number of MiB, got ${value}`);
  }
  const match = /^(\d+(?:\.\d+)?)\s*(Mi|Gi|M|G)?$/.exec(value.trim());
  if (!match) throw new RangeError(`memory ${JSON.stringify(value)} is not a size like '512Mi' or '2Gi'`);
  return Math.ceil(Number(match[1]) * UNITS[match[2] ?? '']!);
}

/** Parses `250`, `'250ms'`, `'30s'`, `'5m'`, `'1h'` to ms. */
export function parseDuration(value: number | string, what: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
    throw new RangeError(`${what} must be a non-negative number of ms, got ${value}`);
  }
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(value.trim());
  if (!match) throw new RangeError(`${what} ${JSON.stringify(value)} is not a duration like '500ms', '30s' or '5m'`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * factor);
}

/** Checks op options and converts them; throws a clear error naming the bad option. */
export function resolveOpOptions(options: OpOptions): ResolvedOpOptions {
  const known = new Set(['cpu', 'gpu', 'memory', 'pool', 'cache', 'version', 'retries', 'timeout', 'env']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`unknown op option '${key}'; known: ${[...known].join(', ')}`);
  }
  const resolved: ResolvedOpOptions = {
    cache: options.cache ?? false,
    version: options.version ?? '',
    retries: { max: 0, backoffMs: 0 },
    env: {},
  };
  if (options.cpu !== undefined) {
    if (!(options.cpu > 0)) throw new RangeError(`cpu must be positive, got ${options.cpu}`);
    resolved.cpu = options.cpu;
  }
  if (options.gpu !== undefined && options.gpu !== 0) {
    throw new RangeError('gpu ops need a pool with GPUs; the local backend has none');
  }
  if (options.memory !== undefined) resolved.memoryMb = parseMemory(options.memory);
  if (options.pool !== undefined) resolved.pool = options.pool;
  if (options.retries !== undefined) {
    const retries = typeof options.retries === 'number' ? { max: options.retries } : options.retries;
    if (!(Number.isInteger(retries.max) && retries.max >= 0 && retries.max <= 100)) {
      throw new RangeError(`retries.max must be a whole number from 0 to 100, got ${retries.max}`);
    }
    resolved.retries = { max: retries.max, backoffMs: parseDuration(retries.backoff ?? 0, 'retries.backoff') };
  }
  if (options.timeout !== undefined) {
    resolved.timeoutMs = parseDuration(options.timeout, 'timeout');
    if (resolved.timeoutMs < 1) throw new RangeError('timeout must be at least 1 ms');
  }
  if (options.env !== undefined) {
    for (const [key, value] of Object.entries(options.env)) {
      if (typeof value !== 'string') throw new TypeError(`env.${key} must be a string`);
    }
    resolved.env = { ...options.env };
  }
  return resolved;
}
