import {
  type ChatDeps,
  type ChatReply,
  carriesSeed,
  handleMessage,
  notAllowedReply,
  parseCommand,
  untilCoreAnswers,
} from "@totp-custody/chat";
import type { Logger } from "pino";
import { renderExpired, renderReply } from "./renderReply.js";
import type { Route } from "./routeMessage.js";
import type { ZulipApi, ZulipMessage } from "./ZulipApi.js";

export interface ResponderDeps {
  api: ZulipApi;
  chat: ChatDeps;
  log: Logger;
  /**
   * How long a message waits, at most, for a totp-core that cannot be reached (a restart) before the user reads
   * "unavailable". Neither mode holds a request of Zulip's meanwhile: the event queue is acknowledged by the next
   * poll, and a webhook request is answered before the work starts.
   */
  coreWaitMs: number;
  /** Ends those waits at shutdown. */
  signal: AbortSignal;
}

/** A code message waiting to be edited to "expired". */
interface PendingExpiry {
  timer: NodeJS.Timeout;
  expire(): Promise<void>;
}

/**
 * Answers routed messages: runs the command core, deletes a message that carried a seed (or says it could not),
 * sends the rendered reply by direct message to the sender, and edits a code message to "expired" when its code
 * expires. Logs say who asked what command, never the text: it can hold a seed, and a reply can hold a code.
 */
export class Responder {
  private readonly pending = new Map<number, PendingExpiry>();

  constructor(private readonly deps: ResponderDeps) {}

  /**
   * Answers by direct message to the sender: a code message so that its id is known and it can be edited when the
   * code expires, any other answer likewise so that a public message's answer reaches the sender alone. A message
   * that looks like a seed is deleted first, before the allowlist or a wait for the core, so that it stays in the
   * conversation no longer than one delete call, whoever sent it.
   */
  async respond(route: Exclude<Route, { kind: "ignore" }>, message: ZulipMessage): Promise<void> {
    const { api, log } = this.deps;
    const command = route.kind === "refuse" ? "refused" : parseCommand(route.text).kind;
    log.info({ messageId: message.id, sender: message.sender_id, origin: route.ctx.origin, command }, "answering");
    let userMessageDeleted = carriesSeed(route.text) ? await this.deleteUserMessage(message.id) : undefined;
    const reply: ChatReply =
      route.kind === "refuse"
        ? notAllowedReply(route.ctx)
        : await untilCoreAnswers(() => handleMessage(route.ctx, route.text, this.deps.chat), {
            budgetMs: this.deps.coreWaitMs,
            signal: this.deps.signal,
          });
    // The core may ask for it where carriesSeed saw no secret (an `add` with nothing after the label).
    if (reply.deleteUserMessage && userMessageDeleted === undefined) {
      userMessageDeleted = await this.deleteUserMessage(message.id);
    }
    const sentId = await api.sendDirect(message.sender_id, renderReply(reply, { userMessageDeleted }));
    if (reply.code) this.expireLater(sentId, renderExpired(reply.code), reply.code.expiresAt);
  }

  /** Whether the realm let the bot delete the message; when not, the reply asks the user to. */
  private async deleteUserMessage(messageId: number): Promise<boolean> {
    try {
      await this.deps.api.delete(messageId);
      return true;
    } catch (err) {
      this.deps.log.warn({ err, messageId }, "could not delete a message that carried a seed; the user is asked to");
      return false;
    }
  }

  private expireLater(messageId: number, expired: string, at: Date): void {
    const expire = async () => {
      this.pending.delete(messageId);
      try {
        await this.deps.api.edit(messageId, expired);
      } catch (err) {
        this.deps.log.warn({ err, messageId }, "could not mark a code message expired");
      }
    };
    const timer = setTimeout(() => void expire(), Math.max(0, at.getTime() - Date.now()));
    this.pending.set(messageId, { timer, expire });
  }

  /** At shutdown: nobody would edit the code messages later, so they say "expired" now. */
  async expireAll(): Promise<void> {
    const pending = [...this.pending.values()];
    for (const { timer } of pending) clearTimeout(timer);
    await Promise.all(pending.map(({ expire }) => expire()));
  }
}
