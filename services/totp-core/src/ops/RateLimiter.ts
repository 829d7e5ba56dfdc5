import { TotpError } from "../errors.js";

export interface RateLimiterOptions {
  /** The most requests a key can make at once (a full bucket). */
  capacity: number;
  /** Tokens added back per minute. */
  refillPerMinute: number;
  /** Milliseconds; injectable so tests can move time. */
  now?: () => number;
  /** Hard bound on the keys held; default 100 000. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

const MINUTE_MS = 60_000;

/** The refusal of a call over a limit, whichever limiter counted it: RESOURCE_EXHAUSTED with the wait. */
export function rateLimited(waitMs: number): TotpError {
  const retryAfterMs = Math.max(1, Math.ceil(waitMs));
  return new TotpError("RESOURCE_EXHAUSTED", `rate limit: try again in ${Math.ceil(retryAfterMs / 1000)} s`, {
    retryAfterMs,
  });
}

/**
 * Token buckets keyed by string. A key seen for the first time starts with a full bucket, so forgetting a full
 * bucket changes nothing: idle buckets are swept once per refill period (the time an empty bucket takes to fill),
 * which keeps the map to the keys active in the last period. Should keys still arrive faster than that, the
 * oldest is dropped at `maxKeys` so memory stays bounded; that forgives the dropped key's debt, the price of the
 * bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly perMinute: number;
  private readonly now: () => number;
  private readonly maxKeys: number;
  private readonly sweepEveryMs: number;
  private nextSweep: number;

  constructor(options: RateLimiterOptions) {
    const { capacity, refillPerMinute, now = Date.now, maxKeys = 100_000 } = options;
    if (!(capacity >= 1)) throw new RangeError(`rate limit capacity must be at least 1, got ${capacity}`);
    if (!(refillPerMinute > 0)) throw new RangeError(`rate limit refill must be positive, got ${refillPerMinute}`);
    if (!(maxKeys >= 1)) throw new RangeError(`rate limit maxKeys must be at least 1, got ${maxKeys}`);
    this.capacity = capacity;
    this.perMinute = refillPerMinute;
    this.now = now;
    this.maxKeys = maxKeys;
    this.sweepEveryMs = Math.ceil((capacity * MINUTE_MS) / refillPerMinute);
    this.nextSweep = now() + this.sweepEveryMs;
  }

  /** Keys currently held. */
  get size(): number {
    return this.buckets.size;
  }

  /** Spends one token of `key`, or throws RESOURCE_EXHAUSTED with the wait until one is back. */
  take(key: string): void {
    const waitMs = this.tryTake(key);
    if (waitMs > 0) throw rateLimited(waitMs);
  }

  /** Spends one token of `key` and answers 0, or answers the wait (ms) until one is back without throwing. */
  tryTake(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      // Only a new key grows the map, so only then is it worth looking at its size.
      if (now >= this.nextSweep) this.sweep(now);
      if (this.buckets.size >= this.maxKeys) this.dropOldest();
      bucket = { tokens: this.capacity, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = this.refilled(bucket, now);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    // Multiplying before dividing keeps whole-token waits exact (10/min: exactly 6000 ms).
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * MINUTE_MS) / this.perMinute));
  }

  private refilled(bucket: Bucket, now: number): number {
    // A clock stepping back must not drain the bucket.
    const elapsed = Math.max(0, now - bucket.at);
    return Math.min(this.capacity, bucket.tokens + (elapsed * this.perMinute) / MINUTE_MS);
  }

  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.refilled(bucket, now) >= this.capacity) this.buckets.delete(key);
    }
    this.nextSweep = now + this.sweepEveryMs;
  }

  private dropOldest(): void {
    // Map iterates in insertion order: the first key is the one created longest ago.
    for (const key of this.buckets.keys()) {
      this.buckets.delete(key);
      return;
    }
  }
}
