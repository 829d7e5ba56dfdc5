import { RateLimiter } from "./RateLimiter.js";

/** How often the refusals over budget are written, as one summary line per client. */
export const SUMMARY_INTERVAL_MS = 1000;

/** Where a client's refusals are counted once more clients than `maxKeys` are over budget at once. */
export const OTHER_CLIENTS = "(other clients)";

export interface RefusalSummary {
  /** The client identity (or peer address) whose refusals these are. */
  client: string;
  count: number;
}

export interface RefusalLimitsOptions {
  /** Refusals per minute, per client, that get an audit line of their own; the burst is one minute's worth. */
  perMinute: number;
  now?: () => number;
  /** Bound on the clients tracked, for the budgets and for the counts awaiting a summary alike. */
  maxKeys?: number;
}

/**
 * The budget of refused calls, per client: a call refused before it could run (an identity the policy does not know,
 * a bad on_behalf_of, a rate limit) costs the server an audit line, and an unbounded stream of those would fill the
 * audit volume and take every caller down with it. Within the budget each refusal gets its line; beyond it the
 * refusal is only counted, and the counts are written once per SUMMARY_INTERVAL_MS as one line per client. Budgets
 * are per client, so one abuser spends only its own.
 */
export class RefusalLimits {
  private readonly budget: RateLimiter;
  private readonly maxKeys: number;
  private counts = new Map<string, number>();

  constructor({ perMinute, now, maxKeys = 10_000 }: RefusalLimitsOptions) {
    this.budget = new RateLimiter({ capacity: perMinute, refillPerMinute: perMinute, now, maxKeys });
    this.maxKeys = maxKeys;
  }

  /**
   * True when the refusal gets its own audit line; otherwise it is counted for the next summary and the answer is
   * the wait (ms) until the client has budget again.
   */
  admit(client: string): { audit: true } | { audit: false; retryAfterMs: number } {
    const waitMs = this.budget.tryTake(client);
    if (waitMs === 0) return { audit: true };
    const key = this.counts.has(client) || this.counts.size < this.maxKeys ? client : OTHER_CLIENTS;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    return { audit: false, retryAfterMs: waitMs };
  }

  /** The refusals counted since the last call, one entry per client, and forgets them. */
  takeSummaries(): RefusalSummary[] {
    if (this.counts.size === 0) return [];
    const summaries = [...this.counts].map(([client, count]) => ({ client, count }));
    this.counts = new Map();
    return summaries;
  }
}
