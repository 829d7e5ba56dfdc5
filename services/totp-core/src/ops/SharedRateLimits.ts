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

/**
 * The rate-limit policy of RateLimits, counted in Redis so that every replica draws on one budget: with N replicas a
 * principal still gets each limit once, not N times. rate-limiter-flexible's Redis limiter does the counting (one
 * atomic script per limit; a window of one minute per key, opened by the key's first call). A key over its limit is
 * also refused from memory until its window ends, so a caller hammering a spent limit costs Redis nothing more.
 *
 * Redis is not a dependency: when it is unavailable (RedisLink), or a command fails or outlasts its timeout, the
 * call is counted by the per-process fallback instead, and so are the following calls until Redis answers again.
 */
export class SharedRateLimits implements CallLimits {
  private readonly limiters: Record<RateLimitName, RateLimiterRedis>;
  private readonly redis: RedisLink;
  private readonly options: SharedRateLimitsOptions;

  constructor(redis: RedisLink, policy: Partial<RateLimitPolicy>, options: SharedRateLimitsOptions) {
    this.redis = redis;
    this.options = options;
    const limiter = (name: RateLimitName) => {
      const points = perMinuteOf(policy, name);
      return new RateLimiterRedis({
        storeClient: redis.client,
        keyPrefix: `totp-core:limit:${name}`,
        points,
        duration: 60,
        rejectIfRedisNotReady: true,
        inMemoryBlockOnConsumed: points + 1,
      });
    };
    this.limiters = Object.fromEntries(LIMIT_NAMES.map((name) => [name, limiter(name)])) as Record<
      RateLimitName,
      RateLimiterRedis
    >;
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
    try {
      await this.limiters[name].consume(key);
    } catch (outcome) {
      // The library rejects with its result when the key is over the limit, and with an Error when Redis failed.
      if (!(outcome instanceof RateLimiterRes)) throw outcome;
      this.options.onRefused?.(name);
      throw rateLimited(outcome.msBeforeNext);
    }
  }
}
