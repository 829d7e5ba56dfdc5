import type { StoredMessage } from "./ChatStore.js";
import { hideSpoilers } from "./hideSpoilers.js";
import type { SeenMessage } from "./TelegramServer.js";

/** A stored message as its chat shows it: rendered text, spoilers masked, buttons, flags. */
export function seenMessage(chatId: number, message: StoredMessage): SeenMessage {
  const text = message.raw.text ?? message.raw.caption ?? "";
  const entities = message.raw.entities ?? message.raw.caption_entities ?? [];
  return {
    chatId,
    messageId: message.raw.message_id,
    from: message.from,
    text,
    visibleText: hideSpoilers(text, entities),
    entities,
    buttons: (message.raw.reply_markup?.inline_keyboard ?? []).map((row) =>
      row.map((button) => ({
        text: button.text,
        ...(button.callback_data === undefined ? {} : { callback_data: button.callback_data }),
        ...(button.url === undefined ? {} : { url: button.url }),
      })),
    ),
    protectContent: message.raw.has_protected_content === true,
    deleted: message.deleted,
    edits: message.edits,
    ...(message.raw.photo === undefined ? {} : { photo: message.raw.photo }),
    ...(message.raw.document === undefined ? {} : { document: message.raw.document }),
    ...(message.raw.reply_to_message === undefined ? {} : { replyTo: message.raw.reply_to_message.message_id }),
    raw: message.raw,
  };
}
