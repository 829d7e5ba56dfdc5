import { type ChatContext, looksLikeSeed } from "@totp-custody/chat";
import type { SenderAllowlist } from "./config.js";
import type { ZulipMessage } from "./ZulipApi.js";

/** The bot's own user, from GET /users/me. */
export interface BotIdentity {
  userId: number;
  fullName: string;
}

export interface RoutingRules {
  allowedSenders?: SenderAllowlist | undefined;
  streams?: ReadonlySet<string> | undefined;
}

/** A message as either mode receives it, with whether it mentions the bot (a flag, or the webhook's trigger). */
export interface Incoming {
  message: ZulipMessage;
  mentioned: boolean;
}

export type Route =
  /** No answer at all: the bot's own message, or a stream message that is not for it. */
  | { kind: "ignore"; why: "own message" | "not mentioned" | "stream not served" }
  /** A sender the allowlist does not name: a refusal, and totp-core is not called (the text: for seed hygiene). */
  | { kind: "refuse"; ctx: ChatContext; text: string }
  | { kind: "answer"; ctx: ChatContext; text: string };

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Mentions of the bot: `@**Name**`, `@**Name|id**`, `@**anything|id**`; with `silent`, `@_**...**` too. */
function mentionPattern(bot: BotIdentity, silent: boolean): RegExp {
  const at = silent ? "@_?" : "@";
  const name = escapeRegExp(bot.fullName);
  return new RegExp(`${at}\\*\\*(?:${name}(?:\\|${bot.userId})?|[^*|]*\\|${bot.userId})\\*\\*`, "g");
}

/** The text without any mention of the bot, loud or silent. */
export function withoutMention(content: string, bot: BotIdentity): string {
  return content.replace(mentionPattern(bot, true), " ").trim();
}

/** Whether the text mentions the bot loudly: a silent mention notifies nobody, and Zulip flags none. */
export function mentionsBot(content: string, bot: BotIdentity): boolean {
  return mentionPattern(bot, false).test(content);
}

/**
 * Who asks, from where, and whether the bot answers. A one-to-one direct message is private. A stream message is
 * answered only when it mentions the bot, in a stream the configuration serves; a group direct message is read by
 * everyone in it. Both are public: the answer goes to the sender alone by direct message, and a seed in them is
 * never registered. In a stream not served, only a seed gets an answer: it is deleted, or the sender is told to.
 */
export function routeMessage(incoming: Incoming, bot: BotIdentity, rules: RoutingRules): Route {
  const { message } = incoming;
  if (message.sender_id === bot.userId) return { kind: "ignore", why: "own message" };
  const isStream = message.type === "stream";
  if (isStream && !incoming.mentioned) return { kind: "ignore", why: "not mentioned" };
  const participants = Array.isArray(message.display_recipient) ? message.display_recipient.length : 0;
  const isPublic = isStream || participants > 2;
  const ctx: ChatContext = {
    platform: "zulip",
    userId: String(message.sender_id),
    origin: isPublic ? "public" : "private",
    answersPrivately: isPublic,
  };
  const text = withoutMention(message.content, bot);
  if (isStream && rules.streams !== undefined) {
    const stream = typeof message.display_recipient === "string" ? message.display_recipient.toLowerCase() : "";
    if (!rules.streams.has(stream) && !looksLikeSeed(text)) return { kind: "ignore", why: "stream not served" };
  }
  const allowed = rules.allowedSenders;
  if (
    allowed !== undefined &&
    !allowed.ids.has(message.sender_id) &&
    !allowed.emails.has(message.sender_email.toLowerCase())
  ) {
    return { kind: "refuse", ctx, text };
  }
  return { kind: "answer", ctx, text };
}
