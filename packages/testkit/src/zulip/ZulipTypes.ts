/** A user of the test realm, human or bot. */
export interface ZulipUser {
  id: number;
  email: string;
  fullName: string;
  apiKey: string;
  isBot: boolean;
}

/** A user given as the object, its id or its email. */
export type UserRef = ZulipUser | number | string;

export interface ZulipServerOptions {
  /** A held GET /events answers a heartbeat event after this long. Default 50 s (Zulip: about a minute). */
  heartbeatMs?: number;
  /** A queue nobody polls for this long is dropped (then BAD_EVENT_QUEUE_ID). Default 10 min, as in Zulip. */
  queueIdleTimeoutMs?: number;
  /** Timeout of an outgoing-webhook POST. Default 10 s, Zulip's default. */
  webhookTimeoutMs?: number;
  /** Reported by /register. */
  zulipVersion?: string;
  zulipFeatureLevel?: number;
}

export type MessageDeletionPolicy = "any" | "own" | "none";

export interface SeenMessage {
  id: number;
  type: "private" | "stream";
  senderId: number;
  senderEmail: string;
  senderFullName: string;
  /** "dm:<participant ids sorted, comma-joined>" or "stream:<stream>/<topic>". */
  conversation: string;
  stream?: string;
  topic?: string;
  /** Everyone who received it (DM participants or stream subscribers), the sender included. */
  recipientIds: number[];
  /** The current Markdown source. */
  content: string;
  /** The HTML Zulip would render. */
  html: string;
  /** Plain text as a reader sees it before clicking anything: spoiler bodies hidden, their headers shown. */
  visibleText: string;
  /** Plain text with every spoiler opened. */
  fullText: string;
  spoilers: { header: string; body: string }[];
  /** Users named by a (non-silent) mention. */
  mentionedIds: number[];
  /** Earlier versions, oldest first. */
  edits: { userId: number; at: number; previousContent: string }[];
  deleted: boolean;
  deletedBy?: number;
  /** Seconds since the epoch. */
  timestamp: number;
}

export interface SeenConversation {
  conversation: string;
  type: "private" | "stream";
  stream?: string;
  topic?: string;
  participantIds: number[];
  messages: SeenMessage[];
}

export interface RequestLogEntry {
  method: string;
  path: string;
  userId?: number;
  params: Record<string, string>;
  status: number;
  code?: string;
  at: number;
}

export interface WebhookDelivery {
  botId: number;
  messageId: number;
  trigger: "direct_message" | "mention";
  url: string;
  /** POSTs made: Zulip retries a timeout or a refused connection up to 3 times. */
  attempts: number;
  payload: Record<string, unknown>;
  status?: number;
  error?: string;
  response?: unknown;
  replyMessageId?: number;
  done: boolean;
}

export interface QueueInfo {
  queueId: string;
  userId: number;
  eventTypes?: string[];
  narrow: [string, string][];
  applyMarkdown: boolean;
  pendingEvents: number;
  polling: boolean;
  lastEventId: number;
}

export interface SeenWhere {
  with?: UserRef | UserRef[];
  stream?: string;
  topic?: string;
  includeDeleted?: boolean;
}

export interface ZulipServer {
  /** "http://127.0.0.1:<port>": zulip-js `realm`, ZULIP_REALM. The API lives under `${url}/api/v1`. */
  readonly url: string;
  addUser(options: { fullName: string; email?: string; id?: number; apiKey?: string }): ZulipUser;
  addBot(options: { fullName: string; email?: string; id?: number; apiKey?: string }): ZulipUser;
  /** The text of a zuliprc file for `user`. */
  zuliprc(user: UserRef): string;
  /** Creates a stream (subscribers default: every user, present and future); returns its id. */
  addStream(name: string, options?: { subscribers?: UserRef[] }): number;
  setOutgoingWebhook(bot: UserRef, webhook: { url: string; token: string }): void;
  setMessageDeletion(policy: MessageDeletionPolicy): void;
  sendDm(from: UserRef, to: UserRef | UserRef[], content: string): number;
  sendStream(from: UserRef, stream: string, topic: string, content: string, options?: { mention?: UserRef }): number;
  mention(user: UserRef): string;
  messagesSeenBy(viewer: UserRef, where?: SeenWhere): SeenMessage[];
  conversationsOf(viewer: UserRef): SeenConversation[];
  readonly messages: readonly SeenMessage[];
  readonly requests: readonly RequestLogEntry[];
  readonly webhookDeliveries: readonly WebhookDelivery[];
  queues(user?: UserRef): QueueInfo[];
  expireQueues(which?: UserRef | { queueId: string }): void;
  rateLimitNext(count: number, options?: { retryAfterSeconds?: number; user?: UserRef }): void;
  waitFor<T>(probe: () => T | Promise<T>, options?: { timeoutMs?: number; what?: string }): Promise<NonNullable<T>>;
  close(): Promise<void>;
}
