import type { EventuallyOptions } from "../eventually.js";

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
  /** The address it listens on, 127.0.0.1 by default; e.g. a test cluster's bridge gateway, so that pods reach it. */
  listenAddress?: string;
}

export type MessageDeletionPolicy = "any" | "own" | "none";

/** What the realm lets users do with sent messages. */
export interface MessagePermissions {
  deletion: MessageDeletionPolicy;
  /** Seconds after sending during which a user may delete its own message; null: any time. */
  deleteLimitSeconds: number | null;
  editingAllowed: boolean;
  /** Seconds after sending during which content may be edited; null: any time. */
  editLimitSeconds: number | null;
}

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
  /** The message as first sent: a short-lived message can be edited before the test first looks at it. */
  asSent: { content: string; visibleText: string; spoilers: { header: string; body: string }[] };
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
  /** When it arrived, ms since the epoch. */
  at: number;
  /** On a 429: the `retry-after` it was told, in seconds. */
  retryAfter?: number;
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
  /** "http://<listenAddress>:<port>": zulip-js `realm`, ZULIP_REALM. The API lives under `${url}/api/v1`. */
  readonly url: string;
  /** A human user: email defaults to "<first name>@zulip.test", the API key is random, ids count from 10. */
  addUser(options: { fullName: string; email?: string; id?: number; apiKey?: string }): ZulipUser;
  /** A bot user: email defaults to "<name-slug>-bot@zulip.test". */
  addBot(options: { fullName: string; email?: string; id?: number; apiKey?: string }): ZulipUser;
  /** The text of a zuliprc file for `user`. */
  zuliprc(user: UserRef): string;
  /** Creates a stream (subscribers default: every user, present and future); returns its id. */
  addStream(name: string, options?: { subscribers?: UserRef[] }): number;
  /** Makes `bot` an outgoing-webhook bot (again to change url or token): each DM to it and each channel message
   *  mentioning it is POSTed to `url` with `token`; a `{content}` answer is posted as its reply in place. */
  setOutgoingWebhook(bot: UserRef, webhook: { url: string; token: string }): void;
  /** "any" (default): a user may delete any message it received (as one in can_delete_any_message_group); "own":
   *  only its own, and within `limitSeconds` of sending when given; "none": nobody. */
  setMessageDeletion(policy: MessageDeletionPolicy, options?: { limitSeconds?: number | null }): void;
  /** Whether content edits are allowed, and until how many seconds after sending (null: no limit, the default).
   *  Zulip adds a 20 s grace to the limit; this server does not, so a test need not wait for it. */
  setMessageEditing(settings: { allowed?: boolean; limitSeconds?: number | null }): void;
  /** `from` sends a DM (1:1 or group); returns its id. Queues get it at once, webhooks in the background. */
  sendDm(from: UserRef, to: UserRef | UserRef[], content: string): number;
  /** `from` posts in stream/topic (created when new); `mention` prefixes "@**Full Name** ". Returns the id. */
  sendStream(from: UserRef, stream: string, topic: string, content: string, options?: { mention?: UserRef }): number;
  /** "@**Full Name**", as Zulip's composer writes a mention. */
  mention(user: UserRef): string;
  /** `user` edits the content of a message it sent, as its client would (update_message events follow). */
  editMessage(user: UserRef, messageId: number, content: string): void;
  /** `user` deletes a message, under the realm's deletion policy (delete_message events follow). */
  deleteMessage(user: UserRef, messageId: number): void;
  /** The messages `viewer` received, oldest first (deleted ones flagged), optionally of one conversation. */
  messagesSeenBy(viewer: UserRef, where?: SeenWhere): SeenMessage[];
  conversationsOf(viewer: UserRef): SeenConversation[];
  /** Every message accepted, in order. */
  readonly messages: readonly SeenMessage[];
  /** Every API request with its merged params, user, status and error code. */
  readonly requests: readonly RequestLogEntry[];
  readonly webhookDeliveries: readonly WebhookDelivery[];
  /** The live event queues, of one user or all. */
  queues(user?: UserRef): QueueInfo[];
  /** Drops queues as Zulip's garbage collector does (all, a user's, or one): a held poll answers 400
   *  BAD_EVENT_QUEUE_ID at once, and so does every later poll. */
  expireQueues(which?: UserRef | { queueId: string }): void;
  /** As a server restart: every queue is lost and open connections are cut, so a held poll fails with a network
   *  error and the next poll gets BAD_EVENT_QUEUE_ID. Users, streams and messages stay. */
  restart(): void;
  /** As a Zulip that is down with nothing in front of it: open connections are cut and the port refuses new ones
   *  for `durationMs`, then takes them again. Resolves once it does. Everything stored stays. */
  refuseConnectionsFor(durationMs: number): Promise<void>;
  /** Rate-limit windows, as Zulip's: the next call of `user` (or of anyone) answers 429 RATE_LIMIT_HIT with
   *  Retry-After `retryAfterSeconds` (default 1), and every call of that user is refused, with the time left, until
   *  those seconds have passed. `count` windows open in turn, each at the first call after the previous one ended. */
  rateLimitNext(count: number, options?: { retryAfterSeconds?: number; user?: UserRef }): void;
  /** Every call (of `user`, or anyone) answers 429 for `durationMs`, `retry-after` being the time left. */
  rateLimitFor(durationMs: number, options?: { user?: UserRef }): void;
  /** `eventually` (polls `probe` until truthy, returns that value). */
  waitFor<T>(
    probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
    options?: EventuallyOptions,
  ): Promise<T>;
  /** Cuts held polls, stops timers and webhook POSTs, closes the port; safe to call twice. */
  close(): Promise<void>;
}
