import type { TgUpdate } from "./TelegramTypes.js";

// Without allowed_updates (or with []), Telegram sends every update type except these three.
const OPT_IN_UPDATES = new Set(["chat_member", "message_reaction", "message_reaction_count"]);

/**
 * The bot's pending updates, in order, each kept until it is confirmed: by a getUpdates offset above its id, or
 * by a 2xx answer of the webhook. Updates of a type the bot did not ask for are dropped when it asks.
 */
export class UpdateQueue {
  private items: { update: TgUpdate; type: string }[] = [];
  private nextId = 500_000_001;
  private readonly settledWaiters = new Set<() => void>();

  get pending(): number {
    return this.items.length;
  }

  push(update: Omit<TgUpdate, "update_id">): TgUpdate {
    const type = Object.keys(update).find((key) => key !== "update_id") ?? "unknown";
    const full = { update_id: this.nextId++, ...update } as TgUpdate;
    this.items.push({ update: full, type });
    return full;
  }

  /** "An update is considered confirmed as soon as getUpdates is called with an offset higher than its update_id." */
  confirmBelow(offset: number): void {
    this.items = this.items.filter((item) => item.update.update_id >= offset);
    this.notify();
  }

  /** A negative offset -n: the last n updates stay, all before them are forgotten. */
  keepLast(count: number): void {
    const first = this.items.at(-count)?.update.update_id;
    if (first !== undefined) this.confirmBelow(first);
  }

  dropAll(): void {
    this.confirmBelow(this.nextId);
  }

  /** The first `limit` unconfirmed updates of the allowed types (see OPT_IN_UPDATES for the default). */
  take(allowed: readonly string[] | undefined, limit: number): TgUpdate[] {
    const isAllowed = (type: string) =>
      allowed === undefined || allowed.length === 0 ? !OPT_IN_UPDATES.has(type) : allowed.includes(type);
    this.items = this.items.filter((item) => isAllowed(item.type));
    this.notify();
    return this.items.slice(0, limit).map((item) => item.update);
  }

  /** Resolves once nothing is pending; rejects after `timeoutMs` (a bound against hangs). */
  settled(timeoutMs: number): Promise<void> {
    if (this.items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settledWaiters.delete(done);
        reject(new Error(`timed out waiting for the bot to take ${this.items.length} update(s)`));
      }, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.settledWaiters.add(done);
    });
  }

  private notify(): void {
    if (this.items.length > 0) return;
    for (const resolve of this.settledWaiters) resolve();
    this.settledWaiters.clear();
  }
}
