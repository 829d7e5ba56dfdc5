import { RateLimiter } from "./RateLimiter.js";

/**
 * What a call does, as far as rate limits care. "import" is an ImportSeeds call, "entry" one label it is about to
 * store: each entry draws on the write limit, so that an import stores no more per minute than RegisterSeed could.
 */
export type RateLimitKind = "code" | "read" | "write" | "delete" | "import" | "entry";

/** Requests per minute; each limit's burst equals one minute's worth. */
export interface RateLimitPolicy {
  /** Every call of a principal. */
  requestsPerMinute: number;
  /** Codes of one label for one principal. */
  codesPerLabelPerMinute: number;
  /** Registrations and imported entries of a principal. */
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

/** The setting behind each limit. */
export const LIMIT_SETTINGS: Readonly<Record<RateLimitName, keyof RateLimitPolicy>> = {
  principal: "requestsPerMinute",
  label: "codesPerLabelPerMinute",
  write: "writesPerMinute",
  delete: "deletesPerMinute",
};

/** Per minute for each limit, `??` rather than a spread so that a setting passed as undefined keeps its default. */
export function perMinuteOf(policy: Partial<RateLimitPolicy>, name: RateLimitName): number {
  const setting = LIMIT_SETTINGS[name];
  return policy[setting] ?? DEFAULT_RATE_LIMITS[setting];
}

/**
 * The limit a call draws on besides its principal's: codes, writes and deletes each have their own, so one label
 * cannot be farmed for codes and bulk changes stay slow.
 */
export function narrowLimitOf(kind: RateLimitKind): RateLimitName | undefined {
  switch (kind) {
    case "code":
      return "label";
    case "write":
    case "entry":
      return "write";
    case "delete":
      return "delete";
    case "read":
    case "import":
      return undefined;
  }
}

/** Whether `kind` counts against the principal's limit: every call does; an import's entries are not calls. */
export const drawsPrincipal = (kind: RateLimitKind): boolean => kind !== "entry";

/** The key a limit counts a call under. */
export function limitKey(name: RateLimitName, principal: string, label: string | undefined): string {
  // The length prefix keeps the key unambiguous whatever characters a principal or label holds.
  return name === "label" ? `${principal.length}:${principal}${label ?? ""}` : principal;
}

/** What the server asks before each call; throws (or rejects with) TotpError RESOURCE_EXHAUSTED when over. */
export interface CallLimits {
  check(kind: RateLimitKind, principal: string, label?: string): void | Promise<void>;
}

/**
 * The rate-limit policy of totp-core in one process: every call counts against its principal's limit, and codes,
 * writes and deletes also against their own (narrowLimitOf); each entry an import stores against the write limit
 * alone (drawsPrincipal). A refused call throws TotpError RESOURCE_EXHAUSTED with
 * retryAfterMs. A call refused by its principal's limit spends nothing else; one refused by a narrower limit has
 * spent its principal token, since it was still a request.
 */
export class RateLimits implements CallLimits {
  private readonly limiters: Record<RateLimitName, RateLimiter>;
  private readonly onRefused: ((limit: RateLimitName) => void) | undefined;

  constructor(policy: Partial<RateLimitPolicy> = {}, options: RateLimitsOptions = {}) {
    const limiter = (name: RateLimitName) => {
      const perMinute = perMinuteOf(policy, name);
      return new RateLimiter({
        capacity: perMinute,
        refillPerMinute: perMinute,
        now: options.now,
        maxKeys: options.maxKeys,
      });
    };
    this.limiters = {
      principal: limiter("principal"),
      label: limiter("label"),
      write: limiter("write"),
      delete: limiter("delete"),
    };
    this.onRefused = options.onRefused;
  }

  /** Throws RESOURCE_EXHAUSTED when the call is over a limit; `label` matters for "code" only. */
  check(kind: RateLimitKind, principal: string, label?: string): void {
    if (drawsPrincipal(kind)) this.take("principal", principal);
    const narrow = narrowLimitOf(kind);
    if (narrow) this.take(narrow, limitKey(narrow, principal, label));
  }

  private take(name: RateLimitName, key: string): void {
    try {
      this.limiters[name].take(key);
    } catch (err) {
      this.onRefused?.(name);
      throw err;
    }
  }
}
