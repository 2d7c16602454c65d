/** How many failed authentications one remote address may make: a burst, then a steady rate. */
export interface FailedAuthLimits {
  /** Failures allowed at once. Default 10. */
  readonly burst: number;
  /** Failures allowed per minute after the burst. Default 6. */
  readonly perMinute: number;
}

export const defaultFailedAuthLimits: FailedAuthLimits = { burst: 10, perMinute: 6 };

/** Addresses tracked at once; past it, the fullest buckets (those that would refuse no one) are forgotten first. */
const MAX_ADDRESSES = 10_000;

/**
 * A token bucket per remote address, spent by failed authentications only: an address that keeps
 * failing is refused before its credential is even looked at, until the bucket has refilled.
 */
export class FailedAuthLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limits: FailedAuthLimits = defaultFailedAuthLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws, saying when to try again, when `address` has no failure left to spend. */
  check(address: string | undefined): void {
    const bucket = this.refilled(address);
    if (bucket.tokens >= 1) return;
    const waitS = Math.ceil(((1 - bucket.tokens) * 60) / this.limits.perMinute);
    throw new Error(`too many failed authentications from this address; try again in ${waitS} s`);
  }

  /** Spends one failure of `address`. */
  failed(address: string | undefined): void {
    const bucket = this.refilled(address);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.buckets.set(address ?? 'local', bucket);
    if (this.buckets.size > MAX_ADDRESSES) this.forgetFull();
  }

  private refilled(address: string | undefined): { tokens: number; at: number } {
    const now = this.now();
    const bucket = this.buckets.get(address ?? 'local') ?? { tokens: this.limits.burst, at: now };
    bucket.tokens = Math.min(this.limits.burst, bucket.tokens + ((now - bucket.at) * this.limits.perMinute) / 60_000);
    bucket.at = now;
    return bucket;
  }

  private forgetFull(): void {
    for (const [address] of this.buckets) {
      if (this.refilled(address).tokens >= this.limits.burst) this.buckets.delete(address);
    }
    // All are spending: forget the oldest entries rather than grow without bound.
    for (const [address] of this.buckets) {
      if (this.buckets.size <= MAX_ADDRESSES) break;
      this.buckets.delete(address);
    }
  }
}
