import { setTimeout as sleep } from "node:timers/promises";
import type { ChatReply } from "@totp-custody/chat";

export interface CoreWaitOptions {
  /** How long an update is held, at most, while totp-core cannot be reached (default 60 s). */
  budgetMs?: number;
  /** Ends the wait early (shutdown): the last reply, "unavailable", is then given. */
  signal?: AbortSignal;
  now?: () => number;
  wait?: (ms: number, signal?: AbortSignal) => Promise<unknown>;
}

/** Pauses between runs: short first (a blip), then every 5 s, which grpc-js's reconnect backoff needs anyway. */
export function pauseMs(run: number): number {
  return Math.min(5000, 500 * 2 ** (run - 1));
}

/**
 * Runs `answer` until its reply does not say that totp-core was unreachable, or the budget is spent. The update it
 * answers is held meanwhile (a poll not confirmed, a webhook request not answered), so a core restart delays a
 * message instead of losing it. The SDK has already repeated each call as far as that is safe; a write it did not
 * repeat may have been applied, and running it again then answers "already exists", which is still true.
 */
export async function untilCoreAnswers(answer: () => Promise<ChatReply>, options: CoreWaitOptions = {}) {
  const budgetMs = options.budgetMs ?? 60_000;
  const now = options.now ?? Date.now;
  const wait = options.wait ?? ((ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined));
  const start = now();
  for (let run = 1; ; run++) {
    const reply = await answer();
    if (!reply.coreUnavailable || options.signal?.aborted) return reply;
    const pause = pauseMs(run);
    if (now() - start + pause > budgetMs) return reply;
    await wait(pause, options.signal);
    if (options.signal?.aborted) return reply;
  }
}
