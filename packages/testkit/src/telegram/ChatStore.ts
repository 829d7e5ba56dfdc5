import { BotApiError } from "./BotApiError.js";
import type { TgChat, TgMessage } from "./TelegramTypes.js";

export interface StoredMessage {
  /** The Message as the bot last saw it (edits replace it). */
  raw: TgMessage;
  /** The Message as first sent, kept because an edit can come before a test looks. */
  sent: TgMessage;
  from: "bot" | "user";
  deleted: boolean;
  edits: number;
}

export interface StoredChat {
  chat: TgChat;
  /** User ids, the bot's included while it is a member. */
  members: Set<number>;
  messages: StoredMessage[];
  nextMessageId: number;
}

/** Every chat of the server and its messages, deleted ones kept (flagged) so a test sees what happened. */
export class ChatStore {
  private readonly chats = new Map<number, StoredChat>();

  add(chat: TgChat, members: number[]): StoredChat {
    const stored: StoredChat = { chat, members: new Set(members), messages: [], nextMessageId: 1 };
    this.chats.set(chat.id, stored);
    return stored;
  }

  /** The chat a Bot API `chat_id` names (a number, or its decimal string); 400 "chat not found" otherwise. */
  get(chatId: unknown): StoredChat {
    const id = typeof chatId === "string" && /^-?\d+$/.test(chatId) ? Number(chatId) : chatId;
    const found = typeof id === "number" ? this.chats.get(id) : undefined;
    if (found === undefined) throw BotApiError.badRequest("chat not found");
    return found;
  }

  find(chatId: number): StoredChat | undefined {
    return this.chats.get(chatId);
  }

  all(): StoredChat[] {
    return [...this.chats.values()];
  }

  /** Message ids count from 1 in each chat. */
  addMessage(
    chat: StoredChat,
    from: "bot" | "user",
    content: Omit<TgMessage, "message_id" | "chat" | "date">,
  ): StoredMessage {
    const raw: TgMessage = {
      message_id: chat.nextMessageId++,
      ...content,
      chat: chat.chat,
      date: Math.floor(Date.now() / 1000),
    };
    const stored: StoredMessage = { raw, sent: raw, from, deleted: false, edits: 0 };
    chat.messages.push(stored);
    return stored;
  }

  /** A message that is still there (not deleted). */
  findMessage(chat: StoredChat, messageId: unknown): StoredMessage | undefined {
    return chat.messages.find((message) => message.raw.message_id === messageId && !message.deleted);
  }
}
