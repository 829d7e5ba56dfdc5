import { ZulipApiError } from "./ZulipApiError.js";

/** Zulip's default API limit: requests per user per minute. */
const LIMIT = 200;
const WINDOW_MS = 60_000;

interface Injected {
  /** Calls left to refuse; Infinity for a window that ends at `until`. */
  remaining: number;
  until?: number;
  retryAfterSeconds: number;
  userId?: number;
}

/**
 * The X-RateLimit-* headers every reply carries, counted per user over a minute, and the 429s a test asks for. The
 * real limit is reported but not enforced, so a busy test never trips over it by accident.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly injected: Injected[] = [];

  inject(count: number, retryAfterSeconds: number, userId?: number): void {
    if (count > 0) this.injected.push({ remaining: count, retryAfterSeconds, userId });
  }

  /** Refuses every call (of `userId`, or anyone) for `durationMs`; Retry-After counts down to the window's end. */
  injectWindow(durationMs: number, userId?: number): void {
    this.injected.push({
      remaining: Number.POSITIVE_INFINITY,
      until: Date.now() + durationMs,
      retryAfterSeconds: 0,
      userId,
    });
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
    for (const ended of this.injected.filter((i) => i.until !== undefined && i.until <= now)) {
      this.injected.splice(this.injected.indexOf(ended), 1);
    }
    const due = this.injected.find((i) => i.userId === undefined || i.userId === userId);
    if (!due) return headers;
    due.remaining--;
    if (due.remaining <= 0) this.injected.splice(this.injected.indexOf(due), 1);
    // Zulip reports the seconds to freedom with a fraction, as a window's remainder is.
    const retryAfter = due.until === undefined ? due.retryAfterSeconds : Math.ceil(due.until - now) / 1000;
    throw new ZulipApiError(
      429,
      "API usage exceeded rate limit",
      "RATE_LIMIT_HIT",
      { "retry-after": retryAfter },
      {
        ...headers,
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": String(Math.ceil(now / 1000 + retryAfter)),
        "Retry-After": String(retryAfter),
      },
    );
  }
}
