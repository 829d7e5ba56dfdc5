import type { Place } from "./routeUpdate.js";

/** Expires a code message: deletes it, or edits it to say "expired". */
export type ExpireCode = (place: Place, label: string) => Promise<void>;

interface Pending {
  place: Place;
  label: string;
  timer: NodeJS.Timeout;
}

/**
 * The timers that expire code messages when their period ends, one per message: a refresh that puts a new code in
 * the same message replaces its timer. Telegram has no self-destructing bot messages, so the bot deletes them itself.
 * Timers live in this process only; `flush` (at shutdown) expires every message still showing a code, so a stop
 * leaves none behind.
 */
export class CodeExpiry {
  private readonly pending = new Map<string, Pending>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly expire: ExpireCode,
    private readonly now: () => number = Date.now,
  ) {}

  /** Expires the message at `place`, showing the code of `label`, at `at`. */
  schedule(place: Place, label: string, at: Date): void {
    const key = `${place.chatId}:${place.messageId}`;
    this.cancel(place);
    const timer = setTimeout(() => this.fire(key), Math.max(0, at.getTime() - this.now()));
    // A pending expiry does not keep the process alive; shutdown flushes them.
    timer.unref();
    this.pending.set(key, { place, label, timer });
  }

  cancel(place: Place): void {
    const key = `${place.chatId}:${place.messageId}`;
    const entry = this.pending.get(key);
    if (entry) clearTimeout(entry.timer);
    this.pending.delete(key);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Expires every pending message now, and waits for those already expiring. */
  async flush(): Promise<void> {
    for (const key of [...this.pending.keys()]) this.fire(key);
    await Promise.all([...this.running]);
  }

  private fire(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(key);
    const run = this.expire(entry.place, entry.label).finally(() => this.running.delete(run));
    this.running.add(run);
  }
}
