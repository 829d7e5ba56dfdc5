import { ZulipApiError } from "./ZulipApiError.js";

/** Zulip's default API limit: requests per user per minute. */
const LIMIT = 200;
const WINDOW_MS = 60_000;

/** Rate-limit windows a test asked for, not yet opened: the next call of `userId` (or anyone's) opens one. */
interface Pending {
  windows: number;
  retryAfterSeconds: number;
  userId?: number;
}

/** An open window, refusing `userId` (or everyone) until `until`. */
interface Window {
  until: number;
  userId?: number;
}

/**
 * The X-RateLimit-* headers every reply carries, counted per user over a minute, and the 429s a test asks for. The
 * real limit is reported but not enforced, so a busy test never trips over it by accident. A 429 is a window, as in
 * Zulip: once a user is told Retry-After S, every call of theirs is refused (with the time left) until S seconds
 * have passed, so a client that does not wait out the retry-after keeps being refused.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly pending: Pending[] = [];
  private readonly open: Window[] = [];

  /** `count` windows of `retryAfterSeconds`, opened in turn: each by the first call after the previous one ended. */
  inject(count: number, retryAfterSeconds: number, userId?: number): void {
    if (count > 0) this.pending.push({ windows: count, retryAfterSeconds, userId });
  }

  /** Refuses every call (of `userId`, or anyone) for `durationMs`; Retry-After counts down to the window's end. */
  injectWindow(durationMs: number, userId?: number): void {
    this.open.push({ until: Date.now() + durationMs, userId });
  }

  /** Counts one request of `userId` (undefined: not authenticated); throws the 429 when one is due. */
  take(userId: number | undefined): Record<string, string> {
    const key = userId === undefined ? "anonymous" : String(userId);
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= WINDOW_MS) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count++;
    const headers = {
      "X-RateLimit-Limit": String(LIMIT),
      "X-RateLimit-Remaining": String(Math.max(0, LIMIT - window.count)),
      "X-RateLimit-Reset": String(Math.ceil((window.start + WINDOW_MS) / 1000)),
    };
    if (userId === undefined) return headers;
    const until = this.refusedUntil(userId, now);
    if (until === undefined) return headers;
    // Zulip reports the seconds to freedom with a fraction, as a window's remainder is.
    const retryAfter = Math.ceil(until - now) / 1000;
    throw new ZulipApiError(
      429,
      "API usage exceeded rate limit",
      "RATE_LIMIT_HIT",
      { "retry-after": retryAfter },
      {
        ...headers,
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": String(Math.ceil(until / 1000)),
        "Retry-After": String(retryAfter),
      },
    );
  }

  /** The end of the window refusing `userId` now, opening the next pending one (for them) when none is; else undefined. */
  private refusedUntil(userId: number, now: number): number | undefined {
    for (const ended of this.open.filter((w) => w.until <= now)) this.open.splice(this.open.indexOf(ended), 1);
    const open = this.open.find((w) => w.userId === undefined || w.userId === userId);
    if (open) return open.until;
    const due = this.pending.find((p) => p.userId === undefined || p.userId === userId);
    if (!due) return undefined;
    due.windows--;
    if (due.windows <= 0) this.pending.splice(this.pending.indexOf(due), 1);
    const until = now + due.retryAfterSeconds * 1000;
    this.open.push({ until, userId });
    return until;
  }
}
