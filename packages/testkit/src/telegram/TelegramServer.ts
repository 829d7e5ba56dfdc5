import type { EventuallyOptions } from "../eventually.js";
import type {
  TgBotCommand,
  TgChat,
  TgDocument,
  TgMessage,
  TgMessageEntity,
  TgPhotoSize,
  TgUpdate,
  TgUser,
  TgUserFromGetMe,
  TgWebhookInfo,
} from "./TelegramTypes.js";
import type { SpecViolation } from "./validateBotApiRequest.js";

// The handle startTelegramServer returns and its options: what a test drives and reads.

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
  /** The address it listens on, 127.0.0.1 by default; e.g. a test cluster's bridge gateway, so that pods reach it. */
  listenAddress?: string;
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
  document?: TgDocument;
  /** The message_id this one replies to. */
  replyTo?: number;
  /** The Message object as the bot last saw it. */
  raw: TgMessage;
}

export interface RequestRecord {
  method: string;
  params: Record<string, unknown>;
  /** 0 while the call is still held (a long poll); 499 when the client closed it before the answer. */
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
  /** "http://<listenAddress>:<port>/": telegraf's `telegram.apiRoot`, or TELEGRAM_API_ROOT. */
  readonly apiRoot: string;
  readonly token: string;
  readonly bot: TgUserFromGetMe;
  createUser(options?: { first_name?: string; last_name?: string; username?: string; language_code?: string }): TgUser;
  createChat(options: { type: "group" | "supergroup"; title?: string; members?: TgUser[] }): TgChat;
  privateChat(user: TgUser): TgChat;
  sendText(from: TgUser, text: string, options?: { chat?: TgChat; replyTo?: number }): number;
  sendPhoto(from: TgUser, jpeg: Uint8Array, options?: { chat?: TgChat; caption?: string }): number;
  /** A file sent as a document ("send as file"), e.g. a PDF with a caption. */
  sendDocument(
    from: TgUser,
    data: Uint8Array,
    options: { chat?: TgChat; caption?: string; fileName: string; mimeType: string },
  ): number;
  /** The user edits the text of a message of theirs: Telegram then sends an edited_message update. */
  editText(from: TgUser, chatId: number, messageId: number, text: string): void;
  pressButton(from: TgUser, chatId: number, messageId: number, button: { text?: string; data?: string }): string;
  injectUpdate(update: Omit<TgUpdate, "update_id">): number;
  chat(chatId: number): SeenMessage[];
  message(chatId: number, messageId: number): SeenMessage | undefined;
  /** The message as it was first sent, before any edit or deletion: a short-lived message can be edited before the
   *  test first looks at it. */
  messageAsSent(chatId: number, messageId: number): SeenMessage | undefined;
  readonly botMessages: SeenMessage[];
  readonly callbackAnswers: CallbackAnswer[];
  readonly commands: TgBotCommand[];
  readonly requests: RequestRecord[];
  readonly specViolations: SpecViolation[];
  webhookInfo(): TgWebhookInfo;
  failNext(count: number, fault?: TelegramFault): void;
  /** As the Bot API down: open connections are cut and the port refuses new ones for `durationMs`, then takes
   *  them again. Resolves once it does. */
  refuseConnectionsFor(durationMs: number): Promise<void>;
  postToWebhook(
    update: TgUpdate | string,
    options?: { secret?: string | null },
  ): Promise<{ status: number; body: string }>;
  settled(timeoutMs?: number): Promise<void>;
  waitFor<T>(probe: () => T | undefined | null | false, options?: EventuallyOptions): Promise<T>;
  close(): Promise<void>;
}
