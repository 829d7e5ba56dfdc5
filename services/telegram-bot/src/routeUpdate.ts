import { type ChatAction, type ChatContext, decodeAction, looksLikeSeed } from "@totp-custody/chat";
import type { Update } from "telegraf/types";

/** Where an answer goes and which message it is about. */
export interface Place {
  chatId: number;
  messageId: number;
}

/** What an update asks of the bot, with Telegram's syntax removed; the core decides the rest. */
export type BotInput =
  | { kind: "text"; ctx: ChatContext; place: Place; text: string }
  | { kind: "image"; ctx: ChatContext; place: Place; fileId: string; fileSize?: number; caption?: string }
  /**
   * A message edited to carry a seed: deleted and not acted on, since an edit is no request (bots ignore edits) and
   * the seed would otherwise stay in the chat.
   */
  | { kind: "edited"; ctx: ChatContext; place: Place; text: string }
  /** A button press; `action` undefined when its data is not one this bot writes (forged, or from an old release). */
  | { kind: "action"; ctx: ChatContext; place: Place; queryId: string; action: ChatAction | undefined }
  | { kind: "ignore" };

const IGNORE: BotInput = { kind: "ignore" };

/**
 * A command as the core's grammar has it: `/code@MyBot github` becomes `code github`. A command addressed to another
 * bot (in a group) is not ours: undefined. Text that is no command is passed as written.
 */
export function commandText(text: string, botUsername: string): string | undefined {
  const match = /^\/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?=\s|$)([\s\S]*)$/.exec(text);
  if (!match) return text;
  const [, command, addressee, rest] = match;
  if (addressee !== undefined && addressee.toLowerCase() !== botUsername.toLowerCase()) return undefined;
  return `${command}${rest}`;
}

function contextOf(from: { id: number }, chat: { type: string }): ChatContext {
  return {
    platform: "telegram",
    userId: String(from.id),
    // Groups, supergroups and channels: everyone present reads the answer, which Telegram posts there.
    origin: chat.type === "private" ? "private" : "public",
    answersPrivately: false,
  };
}

/** Images Telegram sends as files ("send without compression") rather than as photos. */
const IMAGE_TYPES = /^image\/(jpeg|png)$/;

/** Turns an update into what the bot is asked; messages from bots and updates of other kinds are ignored. */
export function routeUpdate(update: Update, botUsername: string): BotInput {
  if ("callback_query" in update) {
    const query = update.callback_query;
    const message = query.message;
    if (query.from.is_bot || message === undefined || !("data" in query)) return IGNORE;
    return {
      kind: "action",
      ctx: contextOf(query.from, message.chat),
      place: { chatId: message.chat.id, messageId: message.message_id },
      queryId: query.id,
      action: decodeAction(query.data),
    };
  }
  if ("edited_message" in update) {
    const edited = update.edited_message;
    if (edited.from === undefined || edited.from.is_bot) return IGNORE;
    const text = "text" in edited ? edited.text : "caption" in edited ? (edited.caption ?? "") : "";
    if (!looksLikeSeed(text)) return IGNORE;
    const place = { chatId: edited.chat.id, messageId: edited.message_id };
    return { kind: "edited", ctx: contextOf(edited.from, edited.chat), place, text };
  }
  if (!("message" in update)) return IGNORE;
  const message = update.message;
  if (message.from === undefined || message.from.is_bot) return IGNORE;
  const ctx = contextOf(message.from, message.chat);
  const place = { chatId: message.chat.id, messageId: message.message_id };
  if ("photo" in message && message.photo.length > 0) {
    // Telegram sends one photo in several sizes; the largest reads best.
    const largest = message.photo.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
    return {
      kind: "image",
      ctx,
      place,
      fileId: largest.file_id,
      fileSize: largest.file_size,
      caption: message.caption,
    };
  }
  if ("document" in message && IMAGE_TYPES.test(message.document.mime_type ?? "")) {
    const { file_id, file_size } = message.document;
    return { kind: "image", ctx, place, fileId: file_id, fileSize: file_size, caption: message.caption };
  }
  // The caption of any other file (a PDF, a video) is read as text: it may carry a command, or a seed to delete.
  const written = "text" in message ? message.text : "caption" in message ? message.caption : undefined;
  if (written !== undefined) {
    const text = commandText(written, botUsername);
    return text === undefined ? IGNORE : { kind: "text", ctx, place, text };
  }
  // A sticker, a voice note, a file without caption: the core answers empty text with its hint. In a group, only
  // what is addressed to the bot reaches it (privacy mode), so this does not answer every message there.
  return ctx.origin === "private" ? { kind: "text", ctx, place, text: "" } : IGNORE;
}
