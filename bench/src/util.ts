/** One figure of a bench, as the contract line carries it. */
export interface Result {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  /** 1.0 = as good as the baseline: ours/baseline for a rate, baseline/ours for a latency. */
  ratio: number;
}

/** What every bench module exports. */
export interface BenchModule {
  run(options: { quick: boolean }): Promise<Result[]>;
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function now(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile of `values` (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function rateResult(name: string, ours: number, baseline: number, unit = 'msg/s'): Result {
  return { name, value: round(ours), unit, baseline: round(baseline), ratio: roundRatio(ours / baseline) };
}

export function latencyResult(name: string, ours: number, baseline: number, unit = 'ms'): Result {
  return { name, value: round(ours, 4), unit, baseline: round(baseline, 4), ratio: roundRatio(baseline / ours) };
}

/** 3 decimals; below 0.1, 3 significant digits, so that a tiny ratio does not round to 0. */
function roundRatio(value: number): number {
  return Math.abs(value) < 0.1 ? Number(value.toPrecision(3)) : round(value, 3);
}

function round(value: number, digits = 0): number {
  if (digits === 0 && Math.abs(value) >= 100) return Math.round(value);
  const f = 10 ** Math.max(digits, 2);
  return Math.round(value * f) / f;
}

export function fmt(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(3);
}

/** Rejects after `ms` with a message naming `what`; for bounding waits. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
