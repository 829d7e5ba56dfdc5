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

/**
 * Builds text and entities together. Everything is plain text with entities over it, never parse_mode markup: a
 * label or an issuer from the core cannot inject formatting, because nothing in the text is interpreted. Offsets
 * and lengths are UTF-16 code units, as the Bot API counts them and as JavaScript strings are indexed.
 */
class MessageBuilder {
  text = "";
  readonly entities: MessageEntity[] = [];

  add(value: string, type?: "bold" | "code" | "spoiler"): void {
    if (type !== undefined && value.length > 0) {
      this.entities.push({ type, offset: this.text.length, length: value.length });
    }
    this.text += value;
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

const DELETION_NOTE: Record<Deletion, string> = {
  deleted: "I deleted your message: it carried a seed.",
  failed:
    "I could not delete your message, and it carries a seed: delete it yourself now (long-press it, then Delete " +
    "for everyone).",
};

/**
 * The Telegram message of a core reply. The code, when there is one, gets a line of its own right after the first
 * paragraph, inside a plain `spoiler` entity and no other (the Bot API forbids a spoiler over code or pre), and
 * nowhere else; such a message is protected from forwarding and saving.
 */
export function renderReply(reply: ChatReply, deletion?: Deletion): TelegramMessage {
  const message = new MessageBuilder();
  reply.paragraphs.forEach((paragraph, index) => {
    message.paragraph(paragraph);
    if (index === 0 && reply.code !== undefined) {
      message.add("\n");
      message.add(reply.code.code, "spoiler");
    }
  });
  if (reply.paragraphs.length === 0 && reply.code !== undefined) message.add(reply.code.code, "spoiler");
  if (deletion !== undefined) message.paragraph([{ kind: "text", text: DELETION_NOTE[deletion] }]);
  const rendered: TelegramMessage = { text: message.text, entities: message.entities };
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
  const message = new MessageBuilder();
  message.add("The code for ");
  message.add(label, "code");
  message.add(" has expired. Press Refresh for a new one.");
  return {
    text: message.text,
    entities: message.entities,
    reply_markup: { inline_keyboard: [[{ text: "Refresh", callback_data: encodeAction({ kind: "refresh", label }) }]] },
  };
}
