import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { TotpError } from "../errors.js";
import type { RedisLink } from "../redis/RedisLink.js";
import { rateLimited } from "./RateLimiter.js";
import {
  type CallLimits,
  drawsPrincipal,
  limitKey,
  narrowLimitOf,
  perMinuteOf,
  type RateLimitKind,
  type RateLimitName,
  type RateLimitPolicy,
  type RateLimits,
} from "./RateLimits.js";

export interface SharedRateLimitsOptions {
  /** The per-process limits that count calls while Redis is unavailable (the insurance limiter). */
  fallback: RateLimits;
  onRefused?: (limit: RateLimitName) => void;
  /** Told of each call counted by the fallback because Redis was unavailable. */
  onFallback?: () => void;
}

const LIMIT_NAMES: readonly RateLimitName[] = ["principal", "label", "write", "delete"];

/** A lease is this share of its limit: a replica holds at most 1 % of a minute's points unspent. */
const LEASE_DIVISOR = 100;
/** The leases each limit keeps before it sweeps out those whose window has ended. */
const LEASES_BEFORE_SWEEP = 1024;

/**
 * How many points one Redis round trip draws for a key: 1 for limits under 200 a minute (every call counted in
 * Redis, exactly), 1 % of the limit above that, for services that call thousands of times a minute.
 */
export const leaseSizeOf = (perMinute: number): number => Math.max(1, Math.floor(perMinute / LEASE_DIVISOR));

/** Points of one key drawn from Redis and not yet spent by this replica. */
interface Lease {
  left: number;
  /** performance.now() at which the key's Redis window ends: points left then are dropped, not carried over. */
  until: number;
  /** The last draw got less than it asked for: the limit is spent until `until`, and Redis need not be asked. */
  exhausted: boolean;
  /** The one draw in flight for this key; calls that find the lease empty wait on it instead of drawing too. */
  drawing: Promise<void> | undefined;
}

/**
 * The rate-limit policy of RateLimits, counted in Redis so that every replica draws on one budget: with N replicas a
 * principal still gets each limit once, not N times. rate-limiter-flexible's Redis limiter does the counting (one
 * atomic script per limit; a window of one minute per key, opened by the key's first call). A key over its limit is
 * also refused from memory until its window ends, so a caller hammering a spent limit costs Redis nothing more.
 *
 * A high limit is drawn in leases (leaseSizeOf): one round trip takes 1 % of the key's minute, which this replica
 * then spends from memory, so a service making thousands of calls a minute costs Redis a few commands, not one per
 * call. Every point spent was counted in Redis first, so the replicas together never exceed a limit; a replica may
 * hold up to a lease unspent when the window ends, which the others could not use.
 *
 * Redis is not a dependency: when it is unavailable (RedisLink), or a command fails or outlasts its timeout, the
 * call is counted by the per-process fallback instead, and so are the following calls until Redis answers again.
 */
export class SharedRateLimits implements CallLimits {
  private readonly limiters: Record<RateLimitName, RateLimiterRedis>;
  private readonly points: Record<RateLimitName, number>;
  private readonly leaseSizes: Record<RateLimitName, number>;
  private readonly leases: Record<RateLimitName, Map<string, Lease>>;
  private readonly sweepAt: Record<RateLimitName, number>;
  private readonly redis: RedisLink;
  private readonly options: SharedRateLimitsOptions;

  constructor(redis: RedisLink, policy: Partial<RateLimitPolicy>, options: SharedRateLimitsOptions) {
    this.redis = redis;
    this.options = options;
    const perName = <T>(make: (name: RateLimitName) => T) =>
      Object.fromEntries(LIMIT_NAMES.map((name) => [name, make(name)])) as Record<RateLimitName, T>;
    this.points = perName((name) => perMinuteOf(policy, name));
    this.leaseSizes = perName((name) => leaseSizeOf(this.points[name]));
    this.limiters = perName(
      (name) =>
        new RateLimiterRedis({
          storeClient: redis.client,
          keyPrefix: `totp-core:limit:${name}`,
          points: this.points[name],
          duration: 60,
          rejectIfRedisNotReady: true,
          inMemoryBlockOnConsumed: this.points[name] + 1,
        }),
    );
    this.leases = perName(() => new Map<string, Lease>());
    this.sweepAt = perName(() => LEASES_BEFORE_SWEEP);
  }

  async check(kind: RateLimitKind, principal: string, label?: string): Promise<void> {
    if (!this.redis.available) return this.fallBack(kind, principal, label);
    try {
      if (drawsPrincipal(kind)) await this.take("principal", principal);
      const narrow = narrowLimitOf(kind);
      if (narrow) await this.take(narrow, limitKey(narrow, principal, label));
    } catch (err) {
      if (err instanceof TotpError) throw err;
      this.redis.markUnavailable(err);
      // The principal's point may have been counted in Redis already; counting the call here too errs on the strict side.
      this.fallBack(kind, principal, label);
    }
  }

  private fallBack(kind: RateLimitKind, principal: string, label: string | undefined): void {
    this.options.onFallback?.();
    this.options.fallback.check(kind, principal, label);
  }

  private async take(name: RateLimitName, key: string): Promise<void> {
    const size = this.leaseSizes[name];
    // Counted call by call: no lease to keep, and concurrent calls need not wait on one another's draw.
    if (size === 1) {
      const granted = await this.draw(name, key, 1);
      if (granted.points === 0) this.refuse(name, granted.msBeforeNext);
      return;
    }
    const leases = this.leases[name];
    for (;;) {
      let lease = leases.get(key);
      const now = performance.now();
      if (lease && lease.left > 0 && now < lease.until) {
        lease.left--;
        return;
      }
      if (lease?.drawing) {
        await lease.drawing;
        continue;
      }
      if (lease?.exhausted && now < lease.until) this.refuse(name, lease.until - now);
      if (!lease) {
        lease = { left: 0, until: 0, exhausted: false, drawing: undefined };
        this.remember(name, key, lease);
      }
      const drawn = lease;
      drawn.drawing = this.draw(name, key, size)
        .then((granted) => {
          drawn.left = granted.points;
          drawn.exhausted = granted.points < size;
          drawn.until = performance.now() + granted.msBeforeNext;
        })
        .finally(() => {
          drawn.drawing = undefined;
        });
      await drawn.drawing;
    }
  }

  /** Counts `size` points in Redis; grants what was left of the limit, up to `size`, and when the window ends. */
  private async draw(
    name: RateLimitName,
    key: string,
    size: number,
  ): Promise<{ points: number; msBeforeNext: number }> {
    try {
      const result = await this.limiters[name].consume(key, size);
      return { points: size, msBeforeNext: result.msBeforeNext };
    } catch (outcome) {
      // The library rejects with its result when the key is over the limit, and with an Error when Redis failed.
      if (!(outcome instanceof RateLimiterRes)) throw outcome;
      // consumedPoints includes this draw; it is 0 when the library refused from memory, without asking Redis.
      const leftBefore = outcome.consumedPoints >= size ? this.points[name] - (outcome.consumedPoints - size) : 0;
      return { points: Math.min(size, Math.max(0, leftBefore)), msBeforeNext: outcome.msBeforeNext };
    }
  }

  private refuse(name: RateLimitName, msBeforeNext: number): never {
    this.options.onRefused?.(name);
    throw rateLimited(msBeforeNext);
  }

  /** Keeps a new lease; once the map has grown past its last sweep, drops the leases whose window has ended. */
  private remember(name: RateLimitName, key: string, lease: Lease): void {
    const leases = this.leases[name];
    if (leases.size >= this.sweepAt[name]) {
      const now = performance.now();
      for (const [k, l] of leases) if (l.until <= now && !l.drawing) leases.delete(k);
      this.sweepAt[name] = Math.max(LEASES_BEFORE_SWEEP, 2 * leases.size);
    }
    leases.set(key, lease);
  }
}
