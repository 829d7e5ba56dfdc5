import {
  type ChatDeps,
  type ChatReply,
  handleMessage,
  looksLikeSeed,
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
   * "unavailable". The webhook mode must answer within Zulip's 10 s; the event-queue mode holds the message itself.
   */
  coreWaitMs: number;
  /** Ends those waits at shutdown. */
  signal: AbortSignal;
}

export interface RespondOptions {
  /**
   * The webhook mode can answer in the HTTP response, which Zulip posts where the message came from. Used only for
   * a one-to-one direct message without a code: a code message is sent through the API so that its id is known
   * and it can be edited when the code expires, and a public message's answer goes to the sender alone.
   */
  inPlace?: boolean;
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
   * The answer's content when it is to be posted in place (see RespondOptions), else undefined once it is sent. A
   * message that looks like a seed is deleted first, before the allowlist or a wait for the core, so that it stays
   * in the conversation no longer than one delete call, whoever sent it.
   */
  async respond(route: Exclude<Route, { kind: "ignore" }>, message: ZulipMessage, options: RespondOptions = {}) {
    const { api, log } = this.deps;
    const command = route.kind === "refuse" ? "refused" : parseCommand(route.text).kind;
    log.info({ messageId: message.id, sender: message.sender_id, origin: route.ctx.origin, command }, "answering");
    let userMessageDeleted = looksLikeSeed(route.text) ? await this.deleteUserMessage(message.id) : undefined;
    const reply: ChatReply =
      route.kind === "refuse"
        ? notAllowedReply(route.ctx)
        : await untilCoreAnswers(() => handleMessage(route.ctx, route.text, this.deps.chat), {
            budgetMs: this.deps.coreWaitMs,
            signal: this.deps.signal,
          });
    // The core also asks to delete messages that only took a seed's place (`add shop hunter2`).
    if (reply.deleteUserMessage && userMessageDeleted === undefined) {
      userMessageDeleted = await this.deleteUserMessage(message.id);
    }
    const content = renderReply(reply, { userMessageDeleted });
    if (options.inPlace && route.ctx.origin === "private" && reply.code === undefined) return content;
    const sentId = await api.sendDirect(message.sender_id, content);
    if (reply.code) this.expireLater(sentId, renderExpired(reply.code), reply.code.expiresAt);
    return undefined;
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
