import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { MessageIntake } from "./MessageIntake.js";
import { type BotIdentity, mentionsBot } from "./routeMessage.js";
import { type EventQueue, type ZulipApi, ZulipApiError, type ZulipMessage } from "./ZulipApi.js";

const MAX_BACKOFF_MS = 30_000;
const FIRST_BACKOFF_MS = 500;

/** Whether a message mentions the bot: Zulip's `mentioned` flag, or the text when a server sends no flags. */
function mentioned(message: ZulipMessage, flags: string[] | undefined, bot: BotIdentity): boolean {
  return flags === undefined ? mentionsBot(message.content, bot) : flags.includes("mentioned");
}

/**
 * The one-replica mode: Zulip's event queue, long-polled by this loop (zulip-js's callOnEachEvent never registers
 * again when a queue is gone, and cannot be stopped). Events are acknowledged by passing the last event id seen to
 * the next poll. When Zulip has dropped the queue (BAD_EVENT_QUEUE_ID: it was idle too long), the loop registers a
 * new one and reads back the direct messages and mentions that came while it had none, from the last message id it
 * saw, so none goes unanswered; the intake drops any it has answered already.
 */
export class EventQueueLoop {
  private readonly stopping = new AbortController();
  private queue: EventQueue | undefined;
  private running: Promise<void> | undefined;
  /** The last queue was lost: the next one reads back what came in the gap. */
  private lostQueue = false;

  constructor(
    private readonly api: ZulipApi,
    private readonly bot: BotIdentity,
    private readonly intake: MessageIntake,
    private readonly log: Logger,
  ) {}

  /** Registers the first queue, then polls in the background. */
  async start(): Promise<void> {
    await this.register();
    this.running = this.run();
  }

  private async register(): Promise<EventQueue> {
    const queue = await this.api.register();
    this.queue = queue;
    this.log.info({ queueId: queue.id }, "event queue registered");
    const after = this.intake.lastMessageId;
    if (this.lostQueue && after !== undefined) {
      this.lostQueue = false;
      try {
        const missed = await this.api.messagesAfter(after);
        this.log.info({ count: missed.length }, "read back the messages sent while no queue existed");
        for (const message of missed) {
          void this.intake.take({ message, mentioned: mentioned(message, message.flags, this.bot) });
        }
      } catch (err) {
        this.log.warn({ err }, "could not read back the messages sent while no queue existed");
      }
    }
    return queue;
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    let failures = 0;
    let lastEventId = this.queue?.lastEventId ?? -1;
    while (!signal.aborted) {
      try {
        if (this.queue === undefined) lastEventId = (await this.register()).lastEventId;
        const queue = this.queue as EventQueue;
        const events = await this.api.events(queue, lastEventId, signal);
        failures = 0;
        for (const event of events) {
          lastEventId = Math.max(lastEventId, event.id);
          if (event.type !== "message" || event.message === undefined) continue;
          const message = event.message;
          void this.intake.take({ message, mentioned: mentioned(message, event.flags, this.bot) });
        }
      } catch (err) {
        if (signal.aborted) break;
        const code = err instanceof ZulipApiError ? err.code : undefined;
        if (code === "BAD_EVENT_QUEUE_ID") {
          this.log.warn({ queueId: this.queue?.id }, "event queue gone; registering a new one");
          this.queue = undefined;
          this.lostQueue = true;
          continue;
        }
        failures++;
        const waitMs =
          code === "RATE_LIMIT_HIT" && err instanceof ZulipApiError
            ? Math.max(100, err.retryAfterMs ?? 1000)
            : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
        this.log.warn({ err, waitMs: Math.round(waitMs) }, "polling the event queue failed; waiting");
        await sleep(waitMs, undefined, { signal }).catch(() => {});
      }
    }
  }

  /** Stops polling, waits for the answers in hand, and deletes the queue. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    await this.intake.drain();
    const queue = this.queue;
    this.queue = undefined;
    if (queue === undefined) return;
    try {
      await this.api.deregister(queue.id);
    } catch (err) {
      this.log.warn({ err, queueId: queue.id }, "could not delete the event queue; Zulip drops it when idle");
    }
  }
}
