import { RateLimiter } from "./RateLimiter.js";

/** What a call does, as far as rate limits care. */
export type RateLimitKind = "code" | "read" | "write" | "delete";

/** Requests per minute; each limit's burst equals one minute's worth. */
export interface RateLimitPolicy {
  /** Every call of a principal. */
  requestsPerMinute: number;
  /** Codes of one label for one principal. */
  codesPerLabelPerMinute: number;
  /** Registrations and imports of a principal. */
  writesPerMinute: number;
  /** Deletions of a principal. */
  deletesPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: Readonly<RateLimitPolicy> = {
  requestsPerMinute: 60,
  codesPerLabelPerMinute: 10,
  writesPerMinute: 20,
  deletesPerMinute: 20,
};

/** Which limit refused a call: the value of the `kind` label of rate_limited_total. */
export type RateLimitName = "principal" | "label" | "write" | "delete";

export interface RateLimitsOptions {
  now?: () => number;
  /** Bound on the keys each limit holds. */
  maxKeys?: number;
  /** Told which limit refused, e.g. to count it in metrics. */
  onRefused?: (limit: RateLimitName) => void;
}

/**
 * The rate-limit policy of totp-core: every call counts against its principal's limit, and codes, writes and
 * deletes also against their own, so one label cannot be farmed for codes and bulk changes stay slow. A refused
 * call throws TotpError RESOURCE_EXHAUSTED with retryAfterMs. A call refused by its principal's limit spends
 * nothing else; one refused by a narrower limit has spent its principal token, since it was still a request.
 */
export class RateLimits {
  private readonly principal: RateLimiter;
  private readonly label: RateLimiter;
  private readonly write: RateLimiter;
  private readonly delete: RateLimiter;
  private readonly onRefused: ((limit: RateLimitName) => void) | undefined;

  constructor(policy: Partial<RateLimitPolicy> = {}, options: RateLimitsOptions = {}) {
    // `??` rather than a spread, so a setting passed as undefined (an unset variable) keeps its default.
    const limiter = (name: keyof RateLimitPolicy) => {
      const perMinute = policy[name] ?? DEFAULT_RATE_LIMITS[name];
      return new RateLimiter({
        capacity: perMinute,
        refillPerMinute: perMinute,
        now: options.now,
        maxKeys: options.maxKeys,
      });
    };
    this.principal = limiter("requestsPerMinute");
    this.label = limiter("codesPerLabelPerMinute");
    this.write = limiter("writesPerMinute");
    this.delete = limiter("deletesPerMinute");
    this.onRefused = options.onRefused;
  }

  /** Throws RESOURCE_EXHAUSTED when the call is over a limit; `label` matters for "code" only. */
  check(kind: RateLimitKind, principal: string, label?: string): void {
    this.take(this.principal, "principal", principal);
    switch (kind) {
      case "code":
        // The length prefix keeps the key unambiguous whatever characters a principal or label holds.
        this.take(this.label, "label", `${principal.length}:${principal}${label ?? ""}`);
        break;
      case "write":
        this.take(this.write, "write", principal);
        break;
      case "delete":
        this.take(this.delete, "delete", principal);
        break;
      case "read":
        break;
    }
  }

  private take(limiter: RateLimiter, name: RateLimitName, key: string): void {
    try {
      limiter.take(key);
    } catch (err) {
      this.onRefused?.(name);
      throw err;
    }
  }
}
