import { ZulipApiError } from "./ZulipApiError.js";

/** Zulip's default API limit: requests per user per minute. */
const LIMIT = 200;
const WINDOW_MS = 60_000;

interface Injected {
  remaining: number;
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
    const due = this.injected.find((i) => i.userId === undefined || i.userId === userId);
    if (!due) return headers;
    due.remaining--;
    if (due.remaining <= 0) this.injected.splice(this.injected.indexOf(due), 1);
    const retryAfter = due.retryAfterSeconds;
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
