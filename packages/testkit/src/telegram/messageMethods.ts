import { BotApiError } from "./BotApiError.js";
import type { ChatStore, StoredChat, StoredMessage } from "./ChatStore.js";
import { checkEntities } from "./checkEntities.js";
import { checkInlineKeyboard } from "./checkInlineKeyboard.js";
import type { FileStore } from "./FileStore.js";
import { FormatError, parseFormattedText } from "./parseFormattedText.js";
import { jpegDimensions } from "./photoSizes.js";
import type { CallbackAnswer } from "./TelegramServer.js";
import type {
  TgBotCommand,
  TgInlineKeyboardMarkup,
  TgMessage,
  TgMessageEntity,
  TgPhotoSize,
  TgUser,
  TgUserFromGetMe,
} from "./TelegramTypes.js";
import { UploadedFile } from "./UploadedFile.js";

/** A Bot API method: decoded, spec-checked params in, `result` out; a BotApiError for an error answer. */
export type BotApiHandler = (params: Record<string, unknown>, signal: AbortSignal) => unknown;

export interface MessageMethodContext {
  bot: TgUserFromGetMe;
  chats: ChatStore;
  files: FileStore;
  /** Callback queries the test created, by id. */
  queries: Map<string, { answered: boolean }>;
  callbackAnswers: CallbackAnswer[];
  /** setMyCommands lists by commandListKey. */
  commandLists: Map<string, TgBotCommand[]>;
  /** Records a broken Bot API rule the server tolerates (see SpecViolation "semantic"). */
  violate(method: string, problem: string, field?: string): void;
}

const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;

/** The bot as the `from` of its messages. */
export function botAsUser(bot: TgUserFromGetMe): TgUser {
  return {
    id: bot.id,
    is_bot: true,
    first_name: bot.first_name,
    ...(bot.username === undefined ? {} : { username: bot.username }),
  };
}

/** Commands are kept per scope and language, as setMyCommands sets them. */
export function commandListKey(params: Record<string, unknown>): string {
  return JSON.stringify([params.scope ?? { type: "default" }, params.language_code ?? ""]);
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * The methods about chats, messages, buttons, commands and files, over the server's stores; every rule Telegram
 * applies beyond field types (lengths, entities, keyboards, what may be edited or deleted) is checked here.
 */
export function messageMethods(context: MessageMethodContext): Record<string, BotApiHandler> {
  const { bot, chats, files, queries, callbackAnswers, commandLists, violate } = context;

  const formatted = (
    method: string,
    text: unknown,
    parseMode: unknown,
    entities: unknown,
    field: string,
  ): { text: string; entities: TgMessageEntity[] } => {
    let result: { text: string; entities: TgMessageEntity[] };
    if (Array.isArray(entities)) result = { text: String(text ?? ""), entities: entities as TgMessageEntity[] };
    else {
      try {
        result = parseFormattedText(String(text ?? ""), parseMode as string | undefined);
      } catch (error) {
        if (error instanceof FormatError) throw new BotApiError(400, error.message, undefined, true);
        throw error;
      }
    }
    for (const problem of checkEntities(result.text, result.entities)) violate(method, problem, field);
    return result;
  };

  const checkedMarkup = (markup: unknown): TgInlineKeyboardMarkup | undefined => {
    if (markup === undefined || markup === null) return undefined;
    const inline = (markup as Partial<TgInlineKeyboardMarkup>).inline_keyboard;
    if (inline === undefined) return undefined;
    const normalized = { inline_keyboard: inline.map((row) => row.map(({ hide: _hide, ...button }) => button)) };
    checkInlineKeyboard(normalized);
    return normalized;
  };

  const sendContent = (params: Record<string, unknown>, content: Omit<TgMessage, "message_id" | "chat" | "date">) => {
    const chat = chats.get(params.chat_id);
    if (chat.chat.type !== "private" && !chat.members.has(bot.id)) {
      throw new BotApiError(403, "Forbidden: bot is not a member of the group chat");
    }
    const markup = checkedMarkup(params.reply_markup);
    const replyTo = repliedMessage(chat, params.reply_parameters);
    const message = chats.addMessage(chat, "bot", {
      from: botAsUser(bot),
      ...content,
      ...(replyTo === undefined ? {} : { reply_to_message: replyTo }),
      ...(params.protect_content === true ? { has_protected_content: true as const } : {}),
      ...(markup === undefined ? {} : { reply_markup: markup }),
    });
    return message.raw;
  };

  // A reply to a message that is gone (say, a seed message the bot deleted) is refused unless the bot allows it.
  const repliedMessage = (chat: StoredChat, reply: unknown): TgMessage | undefined => {
    const parameters = reply as { message_id?: number; allow_sending_without_reply?: boolean } | undefined;
    if (parameters?.message_id === undefined) return undefined;
    const target = chats.findMessage(chat, parameters.message_id);
    if (target === undefined && parameters.allow_sending_without_reply !== true) {
      throw BotApiError.badRequest("message to be replied not found");
    }
    if (target === undefined) return undefined;
    const { reply_to_message: _nested, ...raw } = target.raw;
    return raw;
  };

  const editable = (params: Record<string, unknown>, what: "edit" | "delete"): StoredMessage => {
    if (params.inline_message_id !== undefined) throw BotApiError.badRequest("message to edit not found");
    const chat = chats.get(params.chat_id);
    const message = chats.findMessage(chat, params.message_id);
    if (message === undefined) throw BotApiError.badRequest(`message to ${what} not found`);
    if (what === "edit" && message.from !== "bot") throw BotApiError.badRequest("message can't be edited");
    return message;
  };

  const applyEdit = (
    message: StoredMessage,
    change: Partial<TgMessage>,
    markup: TgInlineKeyboardMarkup | undefined,
  ) => {
    const before = JSON.stringify([
      message.raw.text,
      message.raw.entities ?? [],
      message.raw.caption,
      message.raw.caption_entities ?? [],
      message.raw.reply_markup ?? null,
    ]);
    const next: TgMessage = { ...message.raw, ...change };
    if (markup === undefined) delete next.reply_markup;
    else next.reply_markup = markup;
    if (next.entities?.length === 0) delete next.entities;
    if (next.caption_entities?.length === 0) delete next.caption_entities;
    const after = JSON.stringify([
      next.text,
      next.entities ?? [],
      next.caption,
      next.caption_entities ?? [],
      next.reply_markup ?? null,
    ]);
    if (before === after) {
      throw BotApiError.badRequest(
        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
      );
    }
    next.edit_date = now();
    message.raw = next;
    message.edits += 1;
    return next;
  };

  return {
    sendMessage: (params) => {
      const { text, entities } = formatted("sendMessage", params.text, params.parse_mode, params.entities, "text");
      if (text.trim() === "") throw BotApiError.badRequest("message text is empty", true);
      if (text.length > MAX_TEXT) throw BotApiError.badRequest("message is too long", true);
      return sendContent(params, { text, ...(entities.length > 0 ? { entities } : {}) });
    },
    sendPhoto: (params) => {
      const { text, entities } = formatted(
        "sendPhoto",
        params.caption ?? "",
        params.parse_mode,
        params.caption_entities,
        "caption",
      );
      if (text.length > MAX_CAPTION) throw BotApiError.badRequest("message caption is too long", true);
      let photo: TgPhotoSize[];
      if (params.photo instanceof UploadedFile) {
        const { width, height } = jpegDimensions(params.photo.data);
        photo = files.photo([{ width, height, data: params.photo.data }]);
      } else {
        const known = files.get(String(params.photo));
        if (known === undefined) throw BotApiError.badRequest("wrong file identifier/HTTP URL specified");
        const { width, height } = jpegDimensions(known.data);
        photo = [
          {
            file_id: known.file.file_id,
            file_unique_id: known.file.file_unique_id,
            width,
            height,
            file_size: known.data.length,
          },
        ];
      }
      return sendContent(params, {
        photo,
        ...(text === "" ? {} : { caption: text }),
        ...(entities.length > 0 ? { caption_entities: entities } : {}),
      });
    },
    editMessageText: (params) => {
      const message = editable(params, "edit");
      const { text, entities } = formatted("editMessageText", params.text, params.parse_mode, params.entities, "text");
      if (text.trim() === "") throw BotApiError.badRequest("message text is empty", true);
      if (text.length > MAX_TEXT) throw BotApiError.badRequest("message is too long", true);
      if (message.raw.text === undefined) throw BotApiError.badRequest("there is no text in the message to edit");
      return applyEdit(message, { text, entities }, checkedMarkup(params.reply_markup));
    },
    editMessageCaption: (params) => {
      const message = editable(params, "edit");
      const { text, entities } = formatted(
        "editMessageCaption",
        params.caption ?? "",
        params.parse_mode,
        params.caption_entities,
        "caption",
      );
      if (text.length > MAX_CAPTION) throw BotApiError.badRequest("message caption is too long", true);
      return applyEdit(message, { caption: text, caption_entities: entities }, checkedMarkup(params.reply_markup));
    },
    editMessageReplyMarkup: (params) => {
      const message = editable(params, "edit");
      return applyEdit(message, {}, checkedMarkup(params.reply_markup));
    },
    deleteMessage: (params) => {
      const chat = chats.get(params.chat_id);
      const message = editable(params, "delete");
      // Bots delete their own messages anywhere, and incoming ones in private chats (groups need admin rights).
      if (message.from === "user" && chat.chat.type !== "private")
        throw BotApiError.badRequest("message can't be deleted");
      message.deleted = true;
      return true;
    },
    deleteMessages: (params) => {
      const chat = chats.get(params.chat_id);
      for (const id of (params.message_ids as number[]) ?? []) {
        const message = chats.findMessage(chat, id);
        if (message !== undefined && (message.from === "bot" || chat.chat.type === "private")) message.deleted = true;
      }
      return true;
    },
    answerCallbackQuery: (params) => {
      const id = String(params.callback_query_id);
      const query = queries.get(id);
      if (query === undefined || query.answered) {
        throw BotApiError.badRequest("query is too old and response timeout expired or query ID is invalid");
      }
      const text = params.text as string | undefined;
      if (text !== undefined && text.length > 200) throw BotApiError.badRequest("MESSAGE_TOO_LONG", true);
      query.answered = true;
      callbackAnswers.push({
        callback_query_id: id,
        ...(text === undefined ? {} : { text }),
        ...(params.show_alert === undefined ? {} : { show_alert: params.show_alert as boolean }),
        ...(params.url === undefined ? {} : { url: params.url as string }),
        ...(params.cache_time === undefined ? {} : { cache_time: params.cache_time as number }),
      });
      return true;
    },
    setMyCommands: (params) => {
      const commands = params.commands as TgBotCommand[];
      if (commands.length > 100) throw BotApiError.badRequest("too many commands", true);
      for (const command of commands) {
        if (!/^[a-z0-9_]{1,32}$/.test(command.command)) throw BotApiError.badRequest("BOT_COMMAND_INVALID", true);
        if (command.description.length < 1 || command.description.length > 256) {
          throw BotApiError.badRequest("BOT_COMMAND_DESCRIPTION_INVALID", true);
        }
      }
      commandLists.set(
        commandListKey(params),
        commands.map(({ command, description }) => ({ command, description })),
      );
      return true;
    },
    getMyCommands: (params) => commandLists.get(commandListKey(params)) ?? [],
    deleteMyCommands: (params) => {
      commandLists.delete(commandListKey(params));
      return true;
    },
    getFile: (params) => {
      const known = files.get(String(params.file_id));
      if (known === undefined) throw BotApiError.badRequest("invalid file_id");
      return known.file;
    },
    sendChatAction: (params) => {
      chats.get(params.chat_id);
      return true;
    },
    getChat: (params) => ({ ...chats.get(params.chat_id).chat, accent_color_id: 0, max_reaction_count: 11 }),
    leaveChat: (params) => {
      chats.get(params.chat_id).members.delete(bot.id);
      return true;
    },
  };
}
