import { setTimeout as sleep } from "node:timers/promises";
import { neverReachedServer } from "@totp-custody/chat";
import { TelegramError } from "telegraf";

export interface RetryOptions {
  /** Attempts in all (default 5). */
  maxAttempts?: number;
  /** The longest `retry_after` waited out; a longer one fails the call (default 60 s). */
  maxWaitMs?: number;
  /** Called before each wait, for the log. */
  onWait?: (waitMs: number, err: Error) => void;
  wait?: (ms: number) => Promise<unknown>;
}

/** How long to wait before repeating a call that failed with `err`; undefined: do not repeat it. */
export function retryDelayMs(err: unknown, attempt: number): number | undefined {
  // The Bot API could not be reached at all (a refused connection, no address): the call never got there, so even
  // a send can be made again.
  if (neverReachedServer(err)) return 500 * 2 ** (attempt - 1);
  if (!(err instanceof TelegramError)) return undefined;
  // Flood control: Telegram says how long to wait, and a repeat before then is refused again.
  if (err.code === 429) return (err.parameters?.retry_after ?? 1) * 1000;
  // Telegram's own trouble (telegraf turns any 5xx into a TelegramError with that code): short backoff.
  if (err.code >= 500) return 500 * 2 ** (attempt - 1);
  return undefined;
}

/**
 * Runs a Bot API call, waiting out a 429's `retry_after` (and backing off after a 5xx or a Bot API that refused the
 * connection) before repeating it, so a reply still goes out under flood control or over a short outage. Any other
 * failure (400, 403, a timeout or cut connection, after which the call may have been applied) is the caller's.
 */
export async function withTelegramRetry<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 5;
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  const wait = options.wait ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const delay = retryDelayMs(err, attempt);
      if (delay === undefined || delay > maxWaitMs || attempt >= maxAttempts) throw err;
      options.onWait?.(delay, err as Error);
      await wait(delay);
    }
  }
}
