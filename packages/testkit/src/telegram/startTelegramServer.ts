import { randomBytes } from "node:crypto";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { type EventuallyOptions, eventually } from "../eventually.js";
import { BotApiError } from "./BotApiError.js";
import { checkEntities } from "./checkEntities.js";
import { checkInlineKeyboard } from "./checkInlineKeyboard.js";
import { decodeBotApiParams } from "./decodeBotApiParams.js";
import { FormatError, parseFormattedText } from "./parseFormattedText.js";
import { BodyError, parseRequestBody } from "./parseRequestBody.js";
import { jpegDimensions, photoSizes } from "./photoSizes.js";
import type {
  TgBotCommand,
  TgCallbackQuery,
  TgChat,
  TgFile,
  TgInlineKeyboardMarkup,
  TgMessage,
  TgMessageEntity,
  TgPhotoSize,
  TgUpdate,
  TgUser,
  TgUserFromGetMe,
  TgWebhookInfo,
} from "./TelegramTypes.js";
import { UploadedFile } from "./UploadedFile.js";
import { canonicalMethodName, type SpecViolation, validateBotApiRequest } from "./validateBotApiRequest.js";

export interface TelegramServerOptions {
  /** Default: a random "<botId>:<35 chars>" token. Any other token gets 401. */
  token?: string;
  /** The bot's getMe identity (privacy mode on by default: can_read_all_group_messages false). */
  bot?: Partial<TgUserFromGetMe>;
  /** Base backoff between webhook delivery retries (doubles per attempt, at most 2 s). Default 100 ms. */
  webhookRetryDelayMs?: number;
  /**
   * Where an update for the webhook `url` is POSTed. Default: an https URL is reached over plain http at the same
   * host and port, as behind the TLS ingress the bot runs behind (the test has no ingress).
   */
  webhookDeliveryUrl?: (url: string) => string;
}

export interface SeenMessage {
  chatId: number;
  messageId: number;
  from: "bot" | "user";
  /** Rendered plain text (text or caption, after parse_mode/entities). */
  text: string;
  /** `text` with every spoiler entity's content replaced by "░░░". */
  visibleText: string;
  entities: TgMessageEntity[];
  buttons: { text: string; callback_data?: string; url?: string }[][];
  protectContent: boolean;
  deleted: boolean;
  /** Successful edits (editMessageText, editMessageReplyMarkup...). */
  edits: number;
  photo?: TgPhotoSize[];
  /** The Message object as the bot last saw it. */
  raw: TgMessage;
}

export interface RequestRecord {
  method: string;
  params: Record<string, unknown>;
  /** 0 while the call is still held (a long poll). */
  status: number;
  description?: string;
  /** "http" for a call, "webhook" for a method the bot returned in its webhook answer. */
  via: "http" | "webhook";
  at: number;
}

export interface CallbackAnswer {
  callback_query_id: string;
  text?: string;
  show_alert?: boolean;
  url?: string;
  cache_time?: number;
}

export interface TelegramFault {
  /** Any method when absent; case-insensitive. */
  method?: string;
  /** 429 (default) or a 5xx. */
  status?: 429 | 500 | 502 | 503;
  /** Seconds, for 429 (default 1). */
  retryAfter?: number;
}

export interface TelegramServer {
  /** "http://127.0.0.1:<port>/": telegraf's `telegram.apiRoot`, or TELEGRAM_API_ROOT. */
  readonly apiRoot: string;
  readonly token: string;
  readonly bot: TgUserFromGetMe;
  createUser(options?: { first_name?: string; last_name?: string; username?: string; language_code?: string }): TgUser;
  createChat(options: { type: "group" | "supergroup"; title?: string; members?: TgUser[] }): TgChat;
  privateChat(user: TgUser): TgChat;
  sendText(from: TgUser, text: string, options?: { chat?: TgChat; replyTo?: number }): number;
  sendPhoto(from: TgUser, jpeg: Uint8Array, options?: { chat?: TgChat; caption?: string }): number;
  pressButton(from: TgUser, chatId: number, messageId: number, button: { text?: string; data?: string }): string;
  injectUpdate(update: Omit<TgUpdate, "update_id">): number;
  chat(chatId: number): SeenMessage[];
  message(chatId: number, messageId: number): SeenMessage | undefined;
  readonly botMessages: SeenMessage[];
  readonly callbackAnswers: CallbackAnswer[];
  readonly commands: TgBotCommand[];
  readonly requests: RequestRecord[];
  readonly specViolations: SpecViolation[];
  webhookInfo(): TgWebhookInfo;
  failNext(count: number, fault?: TelegramFault): void;
  postToWebhook(
    update: TgUpdate | string,
    options?: { secret?: string | null },
  ): Promise<{ status: number; body: string }>;
  settled(timeoutMs?: number): Promise<void>;
  waitFor<T>(probe: () => T | undefined | null | false, options?: EventuallyOptions): Promise<T>;
  close(): Promise<void>;
}

interface StoredMessage {
  raw: TgMessage;
  from: "bot" | "user";
  deleted: boolean;
  edits: number;
}

interface StoredChat {
  chat: TgChat;
  members: Set<number>;
  messages: StoredMessage[];
  nextMessageId: number;
}

interface QueuedUpdate {
  update: TgUpdate;
  type: string;
}

interface HeldPoll {
  wake(): void;
  terminate(): void;
}

interface Webhook {
  url: string;
  secret?: string;
  allowedUpdates?: string[];
  maxConnections: number;
  lastErrorDate?: number;
  lastErrorMessage?: string;
  generation: number;
}

type Handler = (params: Record<string, unknown>, signal: AbortSignal) => unknown;

const MAX_BODY_BYTES = 60 * 1024 * 1024;
const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;
// Without allowed_updates (or with []), Telegram sends every update type except these three.
const OPT_IN_UPDATES = new Set(["chat_member", "message_reaction", "message_reaction_count"]);
const SPOILER_MASK = "░░░";

/**
 * Starts a local Telegram Bot API server on a free loopback port: the real HTTP protocol for one bot, chats with
 * test users, every request checked against the vendored Bot API spec. See /work notes: coord/telegram-server-api.md
 * describes the handle; the tests drive users through it and read what each user sees.
 */
export async function startTelegramServer(options: TelegramServerOptions = {}): Promise<TelegramServer> {
  const botId = options.bot?.id ?? 7_000_001;
  const token = options.token ?? `${botId}:${randomBytes(27).toString("base64url").slice(0, 35)}`;
  const bot: TgUserFromGetMe = {
    id: botId,
    is_bot: true,
    first_name: "Test Bot",
    username: "test_totp_bot",
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    ...options.bot,
  };
  const retryDelayMs = options.webhookRetryDelayMs ?? 100;
  const deliveryUrl = options.webhookDeliveryUrl ?? ((url: string) => url.replace(/^https:/i, "http:"));

  const chats = new Map<number, StoredChat>();
  const files = new Map<string, { file: TgFile; data: Buffer }>();
  const filesByPath = new Map<string, Buffer>();
  const queries = new Map<string, { answered: boolean }>();
  const requests: RequestRecord[] = [];
  const specViolations: SpecViolation[] = [];
  const callbackAnswers: CallbackAnswer[] = [];
  const commandLists = new Map<string, TgBotCommand[]>();
  const faults: (Required<Pick<TelegramFault, "status" | "retryAfter">> & { method?: string; remaining: number })[] =
    [];
  let queue: QueuedUpdate[] = [];
  let nextUpdateId = 500_000_001;
  let nextUserId = 100_001;
  let nextGroupId = 1;
  let nextFileId = 1;
  let nextQueryId = 1;
  let allowedUpdates: string[] = [];
  let heldPoll: HeldPoll | undefined;
  let webhook: Webhook | undefined;
  let webhookGeneration = 0;
  let wakeDelivery: (() => void) | undefined;
  let closed = false;
  const settledWaiters = new Set<() => void>();

  const now = () => Math.floor(Date.now() / 1000);

  // ---- chats and messages ----

  const storedChat = (chatId: unknown): StoredChat => {
    const id = typeof chatId === "string" && /^-?\d+$/.test(chatId) ? Number(chatId) : chatId;
    const found = typeof id === "number" ? chats.get(id) : undefined;
    if (found === undefined) throw BotApiError.badRequest("chat not found");
    return found;
  };

  const addChat = (chat: TgChat, members: number[]): StoredChat => {
    const stored: StoredChat = { chat, members: new Set(members), messages: [], nextMessageId: 1 };
    chats.set(chat.id, stored);
    return stored;
  };

  const addMessage = (
    chat: StoredChat,
    from: "bot" | "user",
    content: Omit<TgMessage, "message_id" | "chat" | "date">,
  ): StoredMessage => {
    const raw: TgMessage = { message_id: chat.nextMessageId++, ...content, chat: chat.chat, date: now() };
    const stored: StoredMessage = { raw, from, deleted: false, edits: 0 };
    chat.messages.push(stored);
    return stored;
  };

  const findMessage = (chat: StoredChat, messageId: unknown): StoredMessage | undefined =>
    chat.messages.find((message) => message.raw.message_id === messageId && !message.deleted);

  const seen = (chatId: number, message: StoredMessage): SeenMessage => {
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
      raw: message.raw,
    };
  };

  const storeFile = (data: Buffer, folder: string, extension: string): TgFile => {
    const n = nextFileId++;
    const file: TgFile = {
      file_id: `AgAC${randomBytes(12).toString("base64url")}${n}`,
      file_unique_id: `AQAD${n}`,
      file_size: data.length,
      file_path: `${folder}/file_${n}.${extension}`,
    };
    files.set(file.file_id, { file, data });
    filesByPath.set(file.file_path as string, data);
    return file;
  };

  const photoEntries = (variants: { width: number; height: number; data: Buffer }[]): TgPhotoSize[] =>
    variants.map(({ width, height, data }) => {
      const file = storeFile(data, "photos", "jpg");
      return { file_id: file.file_id, file_unique_id: file.file_unique_id, width, height, file_size: data.length };
    });

  // ---- updates ----

  const notifySettled = () => {
    if (queue.length > 0) return;
    for (const resolve of settledWaiters) resolve();
    settledWaiters.clear();
  };

  const enqueue = (update: Omit<TgUpdate, "update_id">): number => {
    if (closed) throw new Error("the Telegram test server is closed");
    const type = Object.keys(update).find((key) => key !== "update_id") ?? "unknown";
    const full = { update_id: nextUpdateId++, ...update } as TgUpdate;
    queue.push({ update: full, type });
    heldPoll?.wake();
    wakeDelivery?.();
    return full.update_id;
  };

  const confirmBelow = (offset: number) => {
    queue = queue.filter((queued) => queued.update.update_id >= offset);
    notifySettled();
  };

  const isAllowed = (type: string, allowed: string[] | undefined): boolean =>
    allowed === undefined || allowed.length === 0 ? !OPT_IN_UPDATES.has(type) : allowed.includes(type);

  // Updates of a type the bot did not ask for are never delivered: Telegram drops them.
  const deliverable = (allowed: string[] | undefined, limit: number): TgUpdate[] => {
    queue = queue.filter((queued) => isAllowed(queued.type, allowed));
    notifySettled();
    return queue.slice(0, limit).map((queued) => queued.update);
  };

  // ---- request handling ----

  const violate = (method: string, problem: string, field?: string) => {
    specViolations.push({ method, problem, kind: "semantic", ...(field === undefined ? {} : { field }) });
  };

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
    const chat = storedChat(params.chat_id);
    if (chat.chat.type !== "private" && !chat.members.has(bot.id)) {
      throw new BotApiError(403, "Forbidden: bot is not a member of the group chat");
    }
    const markup = checkedMarkup(params.reply_markup);
    const message = addMessage(chat, "bot", {
      from: botUser(),
      ...content,
      ...(params.protect_content === true ? { has_protected_content: true as const } : {}),
      ...(markup === undefined ? {} : { reply_markup: markup }),
    });
    return message.raw;
  };

  const botUser = (): TgUser => ({
    id: bot.id,
    is_bot: true,
    first_name: bot.first_name,
    ...(bot.username === undefined ? {} : { username: bot.username }),
  });

  const editable = (params: Record<string, unknown>, what: "edit" | "delete"): StoredMessage => {
    if (params.inline_message_id !== undefined) throw BotApiError.badRequest("message to edit not found");
    const chat = storedChat(params.chat_id);
    const message = findMessage(chat, params.message_id);
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

  const commandKey = (params: Record<string, unknown>) =>
    JSON.stringify([params.scope ?? { type: "default" }, params.language_code ?? ""]);

  const handlers: Record<string, Handler> = {
    getMe: () => bot,
    logOut: () => true,
    close: () => true,
    getUpdates: (params, signal) => getUpdates(params, signal),
    setWebhook: (params) => {
      const url = String(params.url ?? "");
      const secret = params.secret_token as string | undefined;
      if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) {
        throw BotApiError.badRequest("secret token contains unallowed characters", true);
      }
      if (url === "") {
        webhook = undefined;
        return true;
      }
      if (!/^https:\/\//i.test(url))
        throw BotApiError.badRequest("bad webhook: An HTTPS URL must be provided for webhook", true);
      if (params.drop_pending_updates === true) confirmBelow(nextUpdateId);
      heldPoll?.terminate();
      webhook = {
        url,
        ...(secret === undefined ? {} : { secret }),
        ...(Array.isArray(params.allowed_updates) ? { allowedUpdates: params.allowed_updates as string[] } : {}),
        maxConnections: (params.max_connections as number | undefined) ?? 40,
        generation: ++webhookGeneration,
      };
      void deliverToWebhook(webhook);
      return true;
    },
    deleteWebhook: (params) => {
      webhook = undefined;
      wakeDelivery?.();
      if (params.drop_pending_updates === true) confirmBelow(nextUpdateId);
      return true;
    },
    getWebhookInfo: () => webhookInfo(),
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
        photo = photoEntries([{ width, height, data: params.photo.data }]);
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
      const chat = storedChat(params.chat_id);
      const message = editable(params, "delete");
      // Bots delete their own messages anywhere, and incoming ones in private chats (groups need admin rights).
      if (message.from === "user" && chat.chat.type !== "private")
        throw BotApiError.badRequest("message can't be deleted");
      message.deleted = true;
      return true;
    },
    deleteMessages: (params) => {
      const chat = storedChat(params.chat_id);
      for (const id of (params.message_ids as number[]) ?? []) {
        const message = findMessage(chat, id);
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
        commandKey(params),
        commands.map(({ command, description }) => ({ command, description })),
      );
      return true;
    },
    getMyCommands: (params) => commandLists.get(commandKey(params)) ?? [],
    deleteMyCommands: (params) => {
      commandLists.delete(commandKey(params));
      return true;
    },
    getFile: (params) => {
      const known = files.get(String(params.file_id));
      if (known === undefined) throw BotApiError.badRequest("invalid file_id");
      return known.file;
    },
    sendChatAction: (params) => {
      storedChat(params.chat_id);
      return true;
    },
    getChat: (params) => ({ ...storedChat(params.chat_id).chat, accent_color_id: 0, max_reaction_count: 11 }),
    leaveChat: (params) => {
      storedChat(params.chat_id).members.delete(bot.id);
      return true;
    },
  };

  const getUpdates = async (params: Record<string, unknown>, signal: AbortSignal): Promise<TgUpdate[]> => {
    if (webhook !== undefined) {
      throw new BotApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      );
    }
    const offset = (params.offset as number | undefined) ?? 0;
    if (offset > 0) confirmBelow(offset);
    else if (offset < 0) confirmBelow(queue.at(offset)?.update.update_id ?? 0);
    if (Array.isArray(params.allowed_updates)) allowedUpdates = params.allowed_updates as string[];
    const limit = Math.min(Math.max((params.limit as number | undefined) ?? 100, 1), 100);
    const timeoutMs = Math.max((params.timeout as number | undefined) ?? 0, 0) * 1000;
    // Telegram ends the request that was already waiting: "terminated by other getUpdates request".
    heldPoll?.terminate();
    heldPoll = undefined;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const batch = deliverable(allowedUpdates, limit);
      if (batch.length > 0 || closed || signal.aborted || Date.now() >= deadline) return batch;
      const outcome = await new Promise<"wake" | "terminated">((resolve) => {
        const timer = setTimeout(() => finish("wake"), deadline - Date.now());
        const onAbort = () => finish("wake");
        const poll: HeldPoll = { wake: () => finish("wake"), terminate: () => finish("terminated") };
        function finish(how: "wake" | "terminated") {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          if (heldPoll === poll) heldPoll = undefined;
          resolve(how);
        }
        signal.addEventListener("abort", onAbort);
        heldPoll = poll;
      });
      if (outcome === "terminated") {
        throw new BotApiError(
          409,
          "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        );
      }
    }
  };

  const webhookInfo = (): TgWebhookInfo => ({
    url: webhook?.url ?? "",
    has_custom_certificate: false,
    pending_update_count: queue.length,
    ...(webhook?.lastErrorDate === undefined ? {} : { last_error_date: webhook.lastErrorDate }),
    ...(webhook?.lastErrorMessage === undefined ? {} : { last_error_message: webhook.lastErrorMessage }),
    ...(webhook === undefined ? {} : { max_connections: webhook.maxConnections }),
    ...(webhook?.allowedUpdates === undefined ? {} : { allowed_updates: webhook.allowedUpdates }),
  });

  // ---- webhook delivery ----

  const postJson = (url: string, body: string, secret: string | undefined) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const target = new URL(url);
      const send = target.protocol === "https:" ? httpsRequest : httpRequest;
      const request = send(
        target,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            ...(secret === undefined ? {} : { "x-telegram-bot-api-secret-token": secret }),
          },
          timeout: 60_000,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
          response.on("error", reject);
        },
      );
      request.on("timeout", () => request.destroy(new Error("timeout")));
      request.on("error", reject);
      request.end(body);
    });

  const sleepUnlessWoken = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (wakeDelivery === done) wakeDelivery = undefined;
        resolve();
      }
      wakeDelivery = done;
    });

  // One update at a time, in order, until it is answered 2xx: the order a single bot instance would see.
  const deliverToWebhook = async (target: Webhook) => {
    let failures = 0;
    const current = () => !closed && webhook?.generation === target.generation;
    while (current()) {
      const [update] = deliverable(target.allowedUpdates, 1);
      if (update === undefined) {
        await sleepUnlessWoken(1000);
        continue;
      }
      let status = 0;
      let body = "";
      let error = "";
      try {
        ({ status, body } = await postJson(deliveryUrl(target.url), JSON.stringify(update), target.secret));
      } catch (cause) {
        error = (cause as Error).message;
      }
      if (!current()) return;
      if (status >= 200 && status < 300) {
        failures = 0;
        confirmBelow(update.update_id + 1);
        await runWebhookReply(body);
        continue;
      }
      target.lastErrorDate = now();
      target.lastErrorMessage =
        error === ""
          ? `Wrong response from the webhook: ${status} ${statusText(status)}`
          : `Connection failed: ${error}`;
      failures += 1;
      await sleepUnlessWoken(Math.min(retryDelayMs * 2 ** (failures - 1), 2000));
    }
  };

  // telegraf's webhookReply: the answer to a webhook POST may be a method call, which Telegram runs.
  const runWebhookReply = async (body: string) => {
    let reply: unknown;
    try {
      reply = JSON.parse(body);
    } catch {
      return;
    }
    if (typeof reply !== "object" || reply === null || typeof (reply as { method?: unknown }).method !== "string")
      return;
    const { method, ...params } = reply as Record<string, unknown> & { method: string };
    await call(method, params, "webhook", new AbortController().signal);
  };

  // ---- HTTP ----

  const takeFault = (method: string) => {
    const fault = faults.find(
      (candidate) => candidate.method === undefined || candidate.method === method.toLowerCase(),
    );
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1);
    if (fault.status === 429) {
      return new BotApiError(429, `Too Many Requests: retry after ${fault.retryAfter}`, {
        retry_after: fault.retryAfter,
      });
    }
    return new BotApiError(fault.status, statusText(fault.status));
  };

  const call = async (
    rawMethod: string,
    raw: Record<string, unknown>,
    via: "http" | "webhook",
    signal: AbortSignal,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const method = canonicalMethodName(rawMethod);
    // Logged when it arrives (status 0 until answered), so a held getUpdates shows up too.
    const entry: RequestRecord = { method: method ?? rawMethod, params: {}, status: 0, via, at: Date.now() };
    requests.push(entry);
    const record = (status: number, params: Record<string, unknown>, description?: string) => {
      entry.params = JSON.parse(JSON.stringify(params)) as Record<string, unknown>;
      entry.status = status;
      if (description !== undefined) entry.description = description;
    };
    if (method === undefined) {
      record(404, raw, "Not Found");
      specViolations.push({ method: rawMethod, problem: "unknown method", kind: "unknown_method" });
      return { status: 404, body: { ok: false, error_code: 404, description: "Not Found" } };
    }
    const params = decodeBotApiParams(method, raw);
    entry.params = JSON.parse(JSON.stringify(params)) as Record<string, unknown>;
    try {
      const fault = takeFault(method);
      if (fault !== undefined) throw fault;
      const violations = validateBotApiRequest(method, params);
      specViolations.push(...violations);
      const refused = violations.find((violation) => violation.kind !== "unknown_field");
      if (refused !== undefined) throw new BotApiError(400, describeViolation(refused));
      const handler = handlers[method];
      if (handler === undefined) {
        violate(method, "method not implemented by the Telegram test server");
        throw BotApiError.badRequest(`method ${method} is not implemented by the test server`);
      }
      const result = await handler(params, signal);
      record(200, params);
      return { status: 200, body: { ok: true, result } };
    } catch (error) {
      if (!(error instanceof BotApiError)) throw error;
      if (error.violation) violate(method, error.description);
      record(error.code, params, error.description);
      return {
        status: error.code,
        body: {
          ok: false,
          error_code: error.code,
          description: error.description,
          ...(error.parameters === undefined ? {} : { parameters: error.parameters }),
        },
      };
    }
  };

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    if (res.destroyed || res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  const readBody = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new BodyError("Request Entity Too Large");
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  };

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const fileRoute = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (fileRoute !== null) {
      const data = fileRoute[1] === token ? filesByPath.get(decodeURIComponent(fileRoute[2] as string)) : undefined;
      if (data === undefined) return reply(res, 404, { ok: false, error_code: 404, description: "Not Found" });
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length });
      res.end(data);
      return;
    }
    const route = /^\/bot([^/]+)\/(?:test\/)?([^/]+)$/.exec(url.pathname);
    if (route === null) return reply(res, 404, { ok: false, error_code: 404, description: "Not Found" });
    if (route[1] !== token) return reply(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
    let raw: Record<string, unknown>;
    try {
      raw = parseRequestBody(url.searchParams, req.headers["content-type"], await readBody(req));
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      return reply(res, 400, { ok: false, error_code: 400, description: error.message });
    }
    // telegraf's multipart bodies repeat the method name as a field.
    if (typeof raw.method === "string" && (req.headers["content-type"] ?? "").startsWith("multipart/"))
      delete raw.method;
    const aborted = new AbortController();
    res.on("close", () => aborted.abort());
    const { status, body } = await call(route[2] as string, raw, "http", aborted.signal);
    reply(res, status, body);
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      reply(res, 500, {
        ok: false,
        error_code: 500,
        description: `Internal Server Error: ${(error as Error).message}`,
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  // ---- the test-side handle ----

  const userMessage = (
    from: TgUser,
    chat: TgChat | undefined,
    content: Omit<TgMessage, "message_id" | "chat" | "date" | "from">,
    readable: (stored: StoredChat) => boolean,
  ): number => {
    const stored = storedChat(chat?.id ?? from.id);
    if (!stored.members.has(from.id)) throw new Error(`user ${from.id} is not in chat ${stored.chat.id}`);
    const message = addMessage(stored, "user", { from, ...content });
    if (readable(stored)) enqueue({ message: message.raw });
    return message.raw.message_id;
  };

  // Privacy mode: in groups the bot gets only commands, mentions and replies to its own messages.
  const botReads = (stored: StoredChat, text: string, replyTo: TgMessage | undefined) =>
    stored.chat.type === "private" ||
    bot.can_read_all_group_messages ||
    text.startsWith("/") ||
    (bot.username !== undefined && text.includes(`@${bot.username}`)) ||
    replyTo?.from?.id === bot.id;

  const handle: TelegramServer = {
    apiRoot: `http://127.0.0.1:${port}/`,
    token,
    bot,
    createUser(userOptions = {}) {
      const id = nextUserId++;
      const user: TgUser = { id, is_bot: false, first_name: userOptions.first_name ?? `User${id}`, ...userOptions };
      addChat(
        {
          id,
          type: "private",
          first_name: user.first_name,
          ...(user.last_name === undefined ? {} : { last_name: user.last_name }),
          ...(user.username === undefined ? {} : { username: user.username }),
        },
        [id, bot.id],
      );
      return user;
    },
    createChat(chatOptions) {
      const n = nextGroupId++;
      const id = chatOptions.type === "supergroup" ? -1_000_000_000_000 - n : -4_000_000_000 - n;
      const chat: TgChat = { id, type: chatOptions.type, title: chatOptions.title ?? `Group ${n}` };
      addChat(chat, [bot.id, ...(chatOptions.members ?? []).map((member) => member.id)]);
      return chat;
    },
    privateChat(user) {
      return storedChat(user.id).chat;
    },
    sendText(from, text, textOptions = {}) {
      const stored = storedChat(textOptions.chat?.id ?? from.id);
      const replyTo = textOptions.replyTo === undefined ? undefined : findMessage(stored, textOptions.replyTo)?.raw;
      const entities = commandEntities(text);
      return userMessage(
        from,
        stored.chat,
        {
          text,
          ...(entities.length > 0 ? { entities } : {}),
          ...(replyTo === undefined ? {} : { reply_to_message: replyTo }),
        },
        (chat) => botReads(chat, text, replyTo),
      );
    },
    sendPhoto(from, jpeg, photoOptions = {}) {
      const photo = photoEntries(photoSizes(Buffer.from(jpeg)));
      const caption = photoOptions.caption;
      const entities = caption === undefined ? [] : commandEntities(caption);
      return userMessage(
        from,
        photoOptions.chat,
        {
          photo,
          ...(caption === undefined ? {} : { caption }),
          ...(entities.length > 0 ? { caption_entities: entities } : {}),
        },
        (chat) => botReads(chat, caption ?? "", undefined),
      );
    },
    pressButton(from, chatId, messageId, button) {
      const stored = storedChat(chatId);
      const message = findMessage(stored, messageId);
      if (message === undefined || message.from !== "bot")
        throw new Error(`no bot message ${messageId} in chat ${chatId}`);
      const found = (message.raw.reply_markup?.inline_keyboard ?? [])
        .flat()
        .find(
          (candidate) =>
            (button.text === undefined || candidate.text === button.text) &&
            (button.data === undefined || candidate.callback_data === button.data),
        );
      if (found?.callback_data === undefined) {
        throw new Error(`message ${messageId} has no callback button ${JSON.stringify(button)}`);
      }
      const id = `${from.id}${String(nextQueryId++).padStart(6, "0")}`;
      queries.set(id, { answered: false });
      const query: TgCallbackQuery = {
        id,
        from,
        message: message.raw,
        chat_instance: String(-chatId * 7 + 3),
        data: found.callback_data,
      };
      enqueue({ callback_query: query });
      return id;
    },
    injectUpdate: enqueue,
    chat(chatId) {
      return storedChat(chatId).messages.map((message) => seen(chatId, message));
    },
    message(chatId, messageId) {
      const message = chats.get(chatId)?.messages.find((candidate) => candidate.raw.message_id === messageId);
      return message === undefined ? undefined : seen(chatId, message);
    },
    get botMessages() {
      return [...chats.values()].flatMap((chat) =>
        chat.messages.filter((message) => message.from === "bot").map((message) => seen(chat.chat.id, message)),
      );
    },
    callbackAnswers,
    get commands() {
      return commandLists.get(commandKey({})) ?? [];
    },
    requests,
    specViolations,
    webhookInfo,
    failNext(count, fault = {}) {
      faults.push({
        ...(fault.method === undefined ? {} : { method: fault.method.toLowerCase() }),
        status: fault.status ?? 429,
        retryAfter: fault.retryAfter ?? 1,
        remaining: count,
      });
    },
    async postToWebhook(update, postOptions = {}) {
      if (webhook === undefined) throw new Error("no webhook is set");
      const secret = postOptions.secret === undefined ? webhook.secret : (postOptions.secret ?? undefined);
      return postJson(deliveryUrl(webhook.url), typeof update === "string" ? update : JSON.stringify(update), secret);
    },
    async settled(timeoutMs = 10_000) {
      if (queue.length === 0) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          settledWaiters.delete(done);
          reject(new Error(`timed out waiting for the bot to take ${queue.length} update(s)`));
        }, timeoutMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        settledWaiters.add(done);
      });
    },
    waitFor(probe, waitOptions) {
      return eventually(probe, waitOptions);
    },
    async close() {
      if (closed) return;
      closed = true;
      heldPoll?.wake();
      wakeDelivery?.();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 100).unref();
      });
    },
  };
  return handle;
}

function describeViolation(violation: SpecViolation): string {
  if (violation.kind === "missing_field") {
    return violation.field === "text"
      ? "Bad Request: message text is empty"
      : `Bad Request: ${violation.field} is empty`;
  }
  return `Bad Request: field "${violation.field}": ${violation.problem}`;
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
  };
  return texts[status] ?? "Error";
}

// Telegram marks /commands (optionally /command@bot) at the start of a word as bot_command entities.
function commandEntities(text: string): TgMessageEntity[] {
  return [...text.matchAll(/(?<![\w/])\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?/g)].map((match) => ({
    type: "bot_command",
    offset: match.index ?? 0,
    length: match[0].length,
  }));
}

function hideSpoilers(text: string, entities: readonly TgMessageEntity[]): string {
  const ranges = entities
    .filter((entity) => entity.type === "spoiler")
    .map((entity) => [entity.offset, entity.offset + entity.length] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push(range);
  }
  let out = "";
  let position = 0;
  for (const [start, end] of merged) {
    out += text.slice(position, start) + SPOILER_MASK;
    position = end;
  }
  return out + text.slice(position);
}
