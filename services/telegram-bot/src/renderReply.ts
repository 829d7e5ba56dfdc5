import { type ChatReply, encodeAction, type TextSpan } from "@totp-custody/chat";
import type { InlineKeyboardMarkup, MessageEntity } from "telegraf/types";

/** A message as sendMessage and editMessageText take it: plain text, entities over it, inline buttons. */
export interface TelegramMessage {
  text: string;
  entities: MessageEntity[];
  reply_markup?: InlineKeyboardMarkup;
  /** Set on code messages: Telegram clients then refuse to forward or save them. */
  protect_content?: true;
}

/** What happened to the user's message that carried a seed, for the line the reply adds about it. */
export type Deletion = "deleted" | "failed";

/** Telegram's bound on a message's text, in UTF-16 code units as entities count them; longer text gets a 400. */
export const MAX_MESSAGE_LENGTH = 4096;

/** A high surrogate: cutting after one would leave half a character, which Telegram refuses as invalid UTF-8. */
const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;

/**
 * Builds text and entities together. Everything is plain text with entities over it, never parse_mode markup: a
 * label or an issuer from the core cannot inject formatting, because nothing in the text is interpreted. Offsets
 * and lengths are UTF-16 code units, as the Bot API counts them and as JavaScript strings are indexed. Text past
 * `limit` is cut, marked with "…", and what follows is dropped; an entity over the cut covers what is left of it.
 */
class MessageBuilder {
  text = "";
  readonly entities: MessageEntity[] = [];
  private full = false;

  constructor(private readonly limit: number) {}

  add(value: string, type?: "bold" | "code" | "spoiler"): void {
    if (this.full) return;
    let part = value;
    if (this.text.length + part.length > this.limit) {
      let cut = Math.max(0, this.limit - 1 - this.text.length);
      if (cut > 0 && isHighSurrogate(part.charCodeAt(cut - 1))) cut--;
      part = part.slice(0, cut);
      this.full = true;
    }
    if (type !== undefined && part.length > 0) {
      this.entities.push({ type, offset: this.text.length, length: part.length });
    }
    this.text += part;
    if (this.full) this.text += "…";
  }

  span(span: TextSpan): void {
    if (span.kind === "label") this.add(span.text, "code");
    else if (span.kind === "strong") this.add(span.text, "bold");
    // Monospace, so a long press copies it; Telegram's clients make the `/word` part tappable themselves.
    else if (span.kind === "command") this.add(`/${span.text}`, "code");
    else this.add(span.text);
  }

  paragraph(spans: TextSpan[]): void {
    if (this.text !== "") this.add("\n");
    for (const span of spans) this.span(span);
  }
}

const spansLength = (spans: TextSpan[]) =>
  spans.reduce((sum, span) => sum + span.text.length + (span.kind === "command" ? 1 : 0), 0);

const moreLine = (count: number) =>
  `…and ${count} more ${count === 1 ? "line" : "lines"}, too many for one Telegram message.`;

/**
 * How many of `paragraphs` fit in one message next to `reserved` characters (the code's line, the deletion note):
 * all when they fit, else as many whole ones as leave room for the line that counts the others (at least the
 * first, which MessageBuilder cuts should it alone be too long).
 */
function paragraphsThatFit(paragraphs: TextSpan[][], reserved: number): number {
  const lengths = paragraphs.map((paragraph, index) => spansLength(paragraph) + (index > 0 ? 1 : 0));
  const total = lengths.reduce((sum, length) => sum + length, 0);
  if (reserved + total <= MAX_MESSAGE_LENGTH) return paragraphs.length;
  const budget = MAX_MESSAGE_LENGTH - reserved - 1 - moreLine(paragraphs.length).length;
  let used = 0;
  let kept = 0;
  for (const length of lengths) {
    if (used + length > budget) break;
    used += length;
    kept++;
  }
  return Math.max(1, kept);
}

const DELETION_NOTE: Record<Deletion, string> = {
  deleted: "I deleted your message: it carried a seed.",
  failed:
    "I could not delete your message, and it carries a seed: delete it yourself now (long-press it, then Delete " +
    "for everyone).",
};

/**
 * The Telegram message of a core reply. The code, when there is one, gets a line of its own right after the first
 * paragraph, inside a plain `spoiler` entity and no other (the Bot API forbids a spoiler over code or pre), and
 * nowhere else; such a message is protected from forwarding and saving. A reply too long for one message (a long
 * list, a large import) loses whole paragraphs from its end, and a line says how many: one message keeps the
 * buttons, edits and expiry of a reply simple, and the buttons of a list still name every label. The line about
 * the user's seed message is always kept.
 */
export function renderReply(reply: ChatReply, deletion?: Deletion): TelegramMessage {
  const note = deletion === undefined ? undefined : DELETION_NOTE[deletion];
  const codeLength = reply.code === undefined ? 0 : reply.code.code.length + 1;
  const kept = paragraphsThatFit(reply.paragraphs, codeLength + (note === undefined ? 0 : note.length + 1));
  const tail = [
    ...(kept < reply.paragraphs.length ? [moreLine(reply.paragraphs.length - kept)] : []),
    ...(note === undefined ? [] : [note]),
  ];
  const message = new MessageBuilder(MAX_MESSAGE_LENGTH - tail.reduce((sum, line) => sum + line.length + 1, 0));
  reply.paragraphs.slice(0, kept).forEach((paragraph, index) => {
    message.paragraph(paragraph);
    if (index === 0 && reply.code !== undefined) {
      message.add("\n");
      message.add(reply.code.code, "spoiler");
    }
  });
  if (reply.paragraphs.length === 0 && reply.code !== undefined) message.add(reply.code.code, "spoiler");
  // Plain text after everything with an entity: the entities' offsets stay as they are.
  const text = [message.text, ...tail].filter((part) => part !== "").join("\n");
  const rendered: TelegramMessage = { text, entities: message.entities };
  if (reply.buttons !== undefined && reply.buttons.length > 0) {
    rendered.reply_markup = {
      inline_keyboard: reply.buttons.map((row) =>
        row.map((button) => ({ text: button.text, callback_data: encodeAction(button.action) })),
      ),
    };
  }
  if (reply.code !== undefined) rendered.protect_content = true;
  return rendered;
}

/** What a code message becomes when its code expires (with TELEGRAM_EXPIRED_CODES=edit): no code, a refresh button. */
export function renderExpired(label: string): TelegramMessage {
  const message = new MessageBuilder(MAX_MESSAGE_LENGTH);
  message.add("The code for ");
  message.add(label, "code");
  message.add(" has expired. Press Refresh for a new one.");
  return {
    text: message.text,
    entities: message.entities,
    reply_markup: { inline_keyboard: [[{ text: "Refresh", callback_data: encodeAction({ kind: "refresh", label }) }]] },
  };
}
