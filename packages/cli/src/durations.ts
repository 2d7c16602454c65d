/** A duration for people: `850ms`, `2.3ms` below 10 ms, `4.2s`, `3m5s`; `-` when unknown. */
export function duration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 10 && !Number.isInteger(ms)) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** The time between two moments, when both are known. */
export function durationOf(startedAt: number | undefined, endedAt: number | undefined): number | undefined {
  return startedAt !== undefined && endedAt !== undefined ? endedAt - startedAt : undefined;
}
