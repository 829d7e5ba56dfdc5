import type { Logger } from "pino";
import type { Responder } from "./Responder.js";
import { type BotIdentity, type Incoming, type RoutingRules, routeMessage } from "./routeMessage.js";

/** How many message ids are remembered to drop a second delivery of the same message. */
const REMEMBERED_IDS = 2000;

/**
 * Where both modes hand in messages: each message id is answered once (a message read back after a lost queue, or
 * a webhook Zulip repeats, is dropped), messages of one sender are answered in order, and shutdown can wait for
 * every answer in hand.
 */
export class MessageIntake {
  private readonly seen = new Set<number>();
  private readonly bySender = new Map<number, Promise<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The highest message id received, where reading back after a lost queue starts. */
  lastMessageId: number | undefined;

  constructor(
    private readonly bot: BotIdentity,
    private readonly rules: RoutingRules,
    private readonly responder: Responder,
    private readonly log: Logger,
  ) {}

  /** Routes and answers a message; resolves when the answer is sent, or failed (logged), or there is none. */
  take(incoming: Incoming): Promise<void> {
    const { message } = incoming;
    if (this.seen.has(message.id)) return Promise.resolve();
    this.seen.add(message.id);
    if (this.seen.size > REMEMBERED_IDS) this.seen.delete(this.seen.values().next().value as number);
    this.lastMessageId = Math.max(this.lastMessageId ?? 0, message.id);
    const route = routeMessage(incoming, this.bot, this.rules);
    if (route.kind === "ignore") {
      this.log.debug({ messageId: message.id, why: route.why }, "not answered");
      return Promise.resolve();
    }
    const sender = message.sender_id;
    const previous = this.bySender.get(sender) ?? Promise.resolve();
    const answer = previous.then(() => this.responder.respond(route, message));
    const settled = answer.catch((err: unknown) => {
      this.log.error({ err, messageId: message.id }, "could not answer a message");
    });
    this.bySender.set(sender, settled);
    this.inFlight.add(settled);
    void settled.finally(() => {
      this.inFlight.delete(settled);
      if (this.bySender.get(sender) === settled) this.bySender.delete(sender);
    });
    return settled;
  }

  /** Resolves when every message taken so far is answered (or failed). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
