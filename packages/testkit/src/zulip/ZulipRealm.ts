import { randomBytes } from "node:crypto";
import { badEventQueue, EventQueue } from "./EventQueue.js";
import { type NarrowSubject, narrowAccepts, parseNarrow } from "./narrowAccepts.js";
import { postOutgoingWebhook } from "./postOutgoingWebhook.js";
import { readBoolean, readCount, readObject, readStringList } from "./readParam.js";
import { type RenderedMessage, renderMessage } from "./renderMessage.js";
import {
  avatarUrl,
  conversationKey,
  messageFlags,
  type StoredMessage,
  type Stream,
  seenMessage,
  wireMessage,
} from "./StoredMessage.js";
import { invalidArgument, missingArgument, ZulipApiError } from "./ZulipApiError.js";
import type {
  MessagePermissions,
  QueueInfo,
  SeenConversation,
  SeenMessage,
  SeenWhere,
  UserRef,
  WebhookDelivery,
  ZulipUser,
} from "./ZulipTypes.js";

export interface RealmSettings {
  url: string;
  heartbeatMs: number;
  webhookTimeoutMs: number;
  zulipVersion: string;
  zulipFeatureLevel: number;
}

type Params = Record<string, string>;
type Reply = Record<string, unknown>;

// Zulip's limit on num_before + num_after.
const MAX_FETCH = 5000;

/**
 * The state of the test realm and what each API call does to it: users, streams, messages, event queues and
 * outgoing-webhook bots. HTTP concerns (auth, parameters, status codes) stay in startZulipServer.
 */
export class ZulipRealm {
  private readonly users = new Map<number, ZulipUser>();
  private readonly streams = new Map<string, Stream>();
  private readonly stored: StoredMessage[] = [];
  private readonly queueMap = new Map<string, EventQueue>();
  private readonly webhooks = new Map<number, { url: string; token: string }>();
  private readonly dmRecipientIds = new Map<string, number>();
  private readonly pendingWebhooks = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  readonly deliveries: WebhookDelivery[] = [];
  readonly permissions: MessagePermissions = {
    deletion: "any",
    deleteLimitSeconds: null,
    editingAllowed: true,
    editLimitSeconds: null,
  };
  private nextUserId = 10;
  private nextMessageId = 100;
  private nextStreamId = 1;
  private nextRecipientId = 1;

  constructor(private readonly settings: RealmSettings) {}

  // ---- users and streams ----

  addUser(options: { fullName: string; email?: string; id?: number; apiKey?: string }, isBot: boolean): ZulipUser {
    const id = options.id ?? this.freeUserId();
    if (this.users.has(id)) throw new Error(`user id ${id} is taken`);
    const email = (options.email ?? this.defaultEmail(options.fullName, isBot, id)).toLowerCase();
    if (this.findByEmail(email)) throw new Error(`email ${email} is taken`);
    const user: ZulipUser = {
      id,
      email,
      fullName: options.fullName,
      apiKey: options.apiKey ?? randomBytes(24).toString("base64url").slice(0, 32),
      isBot,
    };
    this.users.set(id, user);
    return user;
  }

  user(ref: UserRef): ZulipUser {
    const found = this.findUser(ref);
    if (!found) throw new Error(`no such user: ${typeof ref === "object" ? ref.email : ref}`);
    return found;
  }

  private findUser(ref: UserRef): ZulipUser | undefined {
    if (typeof ref === "number") return this.users.get(ref);
    if (typeof ref === "string") return this.findByEmail(ref);
    return this.users.get(ref.id);
  }

  /** The user whose credentials these are, or undefined. */
  authenticate(email: string, apiKey: string): ZulipUser | undefined {
    const user = this.findByEmail(email);
    return user && user.apiKey === apiKey ? user : undefined;
  }

  addStream(name: string, subscribers?: UserRef[]): Stream {
    const key = name.toLowerCase();
    const existing = this.streams.get(key);
    if (existing) throw new Error(`stream ${name} exists`);
    const stream: Stream = {
      id: this.nextStreamId++,
      name,
      subscribers: subscribers ? new Set(subscribers.map((s) => this.user(s).id)) : undefined,
    };
    this.streams.set(key, stream);
    return stream;
  }

  streamNamed(name: string): Stream | undefined {
    return this.streams.get(name.toLowerCase());
  }

  setOutgoingWebhook(bot: UserRef, webhook: { url: string; token: string }): void {
    const user = this.user(bot);
    if (!user.isBot) throw new Error(`${user.email} is not a bot`);
    this.webhooks.set(user.id, { ...webhook });
  }

  // ---- API calls ----

  me(user: ZulipUser): Reply {
    return {
      avatar_url: avatarUrl(this.settings.url, user),
      avatar_version: 1,
      email: user.email,
      delivery_email: user.email,
      full_name: user.fullName,
      user_id: user.id,
      is_admin: false,
      is_owner: false,
      is_guest: false,
      is_bot: user.isBot,
      role: 400,
      timezone: "",
      is_active: true,
      date_joined: "2026-01-01T00:00:00+00:00",
      profile_data: {},
      max_message_id: this.nextMessageId - 1,
    };
  }

  register(user: ZulipUser, params: Params): Reply {
    const eventTypes = params.event_types === undefined ? undefined : readStringList(params, "event_types");
    const narrow = parseNarrow(params.narrow);
    const capabilities = params.client_capabilities === undefined ? {} : readObject(params, "client_capabilities");
    const queue = new EventQueue({
      queueId: `${Date.now()}:${randomBytes(6).toString("hex")}`,
      userId: user.id,
      eventTypes,
      narrow,
      applyMarkdown: readBoolean(params, "apply_markdown", true),
      bulkMessageDeletion: capabilities.bulk_message_deletion === true,
      heartbeatMs: this.settings.heartbeatMs,
    });
    this.queueMap.set(queue.queueId, queue);
    return {
      queue_id: queue.queueId,
      last_event_id: -1,
      zulip_version: this.settings.zulipVersion,
      zulip_feature_level: this.settings.zulipFeatureLevel,
      zulip_merge_base: this.settings.zulipVersion,
      event_queue_longpoll_timeout_seconds: 90,
      max_message_id: this.nextMessageId - 1,
    };
  }

  /** The queue a poll names, if it is this user's and alive. */
  queueFor(user: ZulipUser, params: Params): EventQueue {
    const queueId = params.queue_id;
    if (queueId === undefined) throw missingArgument("queue_id");
    const queue = this.queueMap.get(queueId);
    if (!queue || queue.settings.userId !== user.id) throw badEventQueue(queueId);
    return queue;
  }

  deleteQueue(user: ZulipUser, params: Params): Reply {
    const queue = this.queueFor(user, params);
    queue.expire();
    this.queueMap.delete(queue.queueId);
    return {};
  }

  sendFromApi(user: ZulipUser, params: Params, client: string): Reply {
    const type = params.type;
    if (type === undefined) throw missingArgument("type");
    if (params.to === undefined) throw missingArgument("to");
    const content = params.content;
    if (content === undefined) throw missingArgument("content");
    if (type === "direct" || type === "private") {
      return { id: this.post(user, { to: this.dmRecipients(params.to) }, content, client).id };
    }
    if (type === "stream" || type === "channel") {
      const topic = params.topic ?? params.subject;
      if (topic === undefined) throw new ZulipApiError(400, "Missing topic", "BAD_REQUEST");
      return { id: this.post(user, { stream: this.streamFromParam(params.to), topic }, content, client).id };
    }
    throw new ZulipApiError(400, "Invalid message type", "BAD_REQUEST");
  }

  /** Accepts a message (from the API or the test side), echoes it into the queues of all who receive it, and
   *  starts outgoing-webhook deliveries. */
  post(
    sender: ZulipUser,
    where: { to: ZulipUser[] } | { stream: Stream; topic: string },
    content: string,
    client = "test",
  ): StoredMessage {
    if (content.trim() === "") throw new ZulipApiError(400, "Message must not be empty", "BAD_REQUEST");
    if ("topic" in where && where.topic.trim() === "") {
      throw new ZulipApiError(400, "Topic can't be empty", "BAD_REQUEST");
    }
    const rendered = this.render(content);
    const message: StoredMessage = {
      id: this.nextMessageId++,
      type: "to" in where ? "private" : "stream",
      sender,
      participants: [],
      topic: "",
      recipientId: 0,
      recipientIds: [],
      topicParticipantIds: [],
      content,
      rendered,
      asSent: { content, rendered },
      timestamp: Math.floor(Date.now() / 1000),
      sentAt: Date.now(),
      client,
      edits: [],
      deleted: false,
    };
    if ("to" in where) {
      const byId = new Map([[sender.id, sender], ...where.to.map((u): [number, ZulipUser] => [u.id, u])]);
      message.participants = [...byId.values()].sort((a, b) => a.id - b.id);
      message.recipientIds = message.participants.map((u) => u.id);
      message.recipientId = this.dmRecipientId(message.recipientIds);
    } else {
      message.stream = where.stream;
      message.topic = where.topic;
      message.recipientId = 100_000 + where.stream.id;
      // Subscribers receive it, and so do bots it mentions (as Zulip gives mentioned bots the message), and the sender.
      message.recipientIds = [...this.users.values()]
        .filter(
          (u) =>
            this.isSubscribed(where.stream, u.id) ||
            (u.isBot && message.rendered.mentionedIds.includes(u.id)) ||
            u.id === sender.id,
        )
        .map((u) => u.id);
      message.topicParticipantIds = [
        ...new Set(
          this.stored
            .filter((m) => m.stream === where.stream && sameName(m.topic, where.topic) && !m.deleted)
            .map((m) => m.sender.id),
        ),
      ];
    }
    this.stored.push(message);
    for (const viewerId of message.recipientIds) {
      const flags = messageFlags(message, viewerId);
      for (const queue of this.queuesOfUser(viewerId)) {
        if (!queue.accepts("message")) continue;
        if (!narrowAccepts(queue.settings.narrow, this.narrowSubject(message, flags))) continue;
        queue.push({
          type: "message",
          message: wireMessage(message, queue.settings.applyMarkdown, this.settings.url),
          flags,
        });
      }
    }
    this.triggerWebhooks(message);
    return message;
  }

  /** GET /messages: a window of the user's messages around `anchor`, filtered by `narrow`. */
  fetchMessages(user: ZulipUser, params: Params): Reply {
    const numBefore = readCount(params, "num_before");
    const numAfter = readCount(params, "num_after");
    if (numBefore + numAfter > MAX_FETCH) {
      throw new ZulipApiError(400, `Too many messages requested (maximum ${MAX_FETCH}).`, "BAD_REQUEST");
    }
    const narrow = parseNarrow(params.narrow);
    const applyMarkdown = readBoolean(params, "apply_markdown", true);
    const includeAnchor = readBoolean(params, "include_anchor", true);
    const matching = this.stored.filter(
      (m) =>
        !m.deleted &&
        m.recipientIds.includes(user.id) &&
        narrowAccepts(narrow, this.narrowSubject(m, messageFlags(m, user.id))),
    );
    const anchorParam = params.anchor ?? "newest";
    const anchor =
      anchorParam === "newest"
        ? Number.MAX_SAFE_INTEGER
        : anchorParam === "oldest"
          ? 0
          : anchorParam === "first_unread"
            ? (matching.find((m) => !messageFlags(m, user.id).includes("read"))?.id ?? Number.MAX_SAFE_INTEGER)
            : Number(anchorParam);
    if (!Number.isInteger(anchor) || anchor < 0) throw invalidArgument("anchor", "is not a valid anchor");
    const before = matching.filter((m) => m.id < anchor);
    const after = matching.filter((m) => m.id > anchor);
    const atAnchor = matching.filter((m) => m.id === anchor);
    const window = [
      ...(numBefore > 0 ? before.slice(-numBefore) : []),
      ...(includeAnchor ? atAnchor : []),
      ...after.slice(0, numAfter),
    ];
    return {
      anchor: anchor === Number.MAX_SAFE_INTEGER ? 10_000_000_000_000_000 : anchor,
      found_anchor: atAnchor.length > 0,
      found_oldest: before.length <= numBefore,
      found_newest: after.length <= numAfter,
      history_limited: false,
      messages: window.map((m) => ({
        ...wireMessage(m, applyMarkdown, this.settings.url),
        flags: messageFlags(m, user.id),
      })),
    };
  }

  getMessage(user: ZulipUser, messageId: number, params: Params): Reply {
    const message = this.visibleMessage(user, messageId);
    return {
      message: {
        ...wireMessage(message, readBoolean(params, "apply_markdown", true), this.settings.url),
        flags: messageFlags(message, user.id),
      },
      raw_content: message.content,
    };
  }

  edit(user: ZulipUser, messageId: number, params: Params): Reply {
    const message = this.visibleMessage(user, messageId);
    const content = params.content;
    if (content === undefined) throw new ZulipApiError(400, "Nothing to change", "BAD_REQUEST");
    if (!this.permissions.editingAllowed) {
      throw new ZulipApiError(400, "Your organization has turned off message editing", "BAD_REQUEST");
    }
    if (message.sender.id !== user.id) {
      throw new ZulipApiError(400, "You don't have permission to edit this message", "BAD_REQUEST");
    }
    if (olderThan(message, this.permissions.editLimitSeconds)) {
      throw new ZulipApiError(400, "The time limit for editing this message has passed", "BAD_REQUEST");
    }
    if (content.trim() === "") throw new ZulipApiError(400, "Message must not be empty", "BAD_REQUEST");
    const before = { content: message.content, html: message.rendered.html };
    message.edits.push({ userId: user.id, at: Date.now(), previousContent: message.content });
    message.content = content;
    message.rendered = this.render(content);
    const editTimestamp = Math.floor(Date.now() / 1000);
    for (const viewerId of message.recipientIds) {
      for (const queue of this.queuesOfUser(viewerId)) {
        if (!queue.accepts("update_message")) continue;
        queue.push({
          type: "update_message",
          user_id: user.id,
          edit_timestamp: editTimestamp,
          message_id: message.id,
          message_ids: [message.id],
          flags: messageFlags(message, viewerId),
          rendering_only: false,
          orig_content: before.content,
          orig_rendered_content: before.html,
          content: message.content,
          rendered_content: message.rendered.html,
          is_me_message: message.content.startsWith("/me "),
          ...(message.stream ? { stream_id: message.stream.id, stream_name: message.stream.name } : {}),
        });
      }
    }
    return { detached_uploads: [] };
  }

  delete(user: ZulipUser, messageId: number): Reply {
    const message = this.visibleMessage(user, messageId);
    const { deletion, deleteLimitSeconds } = this.permissions;
    const allowed = deletion === "any" || (deletion === "own" && message.sender.id === user.id);
    if (!allowed) throw new ZulipApiError(400, "You don't have permission to delete this message", "BAD_REQUEST");
    // Only the own-message permission is bound by the time limit; deleting any message is not.
    if (deletion === "own" && olderThan(message, deleteLimitSeconds)) {
      throw new ZulipApiError(400, "The time limit for deleting this message has passed", "BAD_REQUEST");
    }
    message.deleted = true;
    message.deletedBy = user.id;
    for (const viewerId of message.recipientIds) {
      for (const queue of this.queuesOfUser(viewerId)) {
        if (!queue.accepts("delete_message")) continue;
        queue.push({
          type: "delete_message",
          ...(queue.settings.bulkMessageDeletion ? { message_ids: [message.id] } : { message_id: message.id }),
          message_type: message.type,
          ...(message.stream ? { stream_id: message.stream.id, topic: message.topic } : {}),
        });
      }
    }
    return {};
  }

  // ---- queues ----

  queueInfos(user?: ZulipUser): QueueInfo[] {
    return [...this.queueMap.values()]
      .filter((q) => !user || q.settings.userId === user.id)
      .map((q) => ({
        queueId: q.queueId,
        userId: q.settings.userId,
        eventTypes: q.settings.eventTypes,
        narrow: q.settings.narrow.map((t): [string, string] => [t.operator, t.operand]),
        applyMarkdown: q.settings.applyMarkdown,
        pendingEvents: q.pendingEvents,
        polling: q.polling,
        lastEventId: q.lastEventId,
      }));
  }

  expireQueues(select: (queue: EventQueue) => boolean): void {
    for (const queue of [...this.queueMap.values()]) {
      if (!select(queue)) continue;
      queue.expire();
      this.queueMap.delete(queue.queueId);
    }
  }

  /** Forgets every queue without answering held polls (their connections are about to be cut). */
  dropQueues(): void {
    for (const queue of this.queueMap.values()) queue.shutdown();
    this.queueMap.clear();
  }

  /** Zulip's garbage collection: queues that nobody has polled for `idleMs`. */
  expireIdleQueues(idleMs: number): void {
    const now = Date.now();
    this.expireQueues((queue) => !queue.polling && now - queue.lastActivity >= idleMs);
  }

  // ---- what users see ----

  allMessages(): SeenMessage[] {
    return this.stored.map((m) => seenMessage(m));
  }

  messagesSeenBy(viewer: ZulipUser, where: SeenWhere = {}): SeenMessage[] {
    const withIds =
      where.with === undefined
        ? undefined
        : [viewer.id, ...(Array.isArray(where.with) ? where.with : [where.with]).map((u) => this.user(u).id)];
    const dmKey = withIds ? `dm:${[...new Set(withIds)].sort((a, b) => a - b).join(",")}` : undefined;
    return this.stored
      .filter((m) => m.recipientIds.includes(viewer.id))
      .filter((m) => where.includeDeleted !== false || !m.deleted)
      .filter((m) => dmKey === undefined || conversationKey(m) === dmKey)
      .filter((m) => where.stream === undefined || (m.stream !== undefined && sameName(m.stream.name, where.stream)))
      .filter((m) => where.topic === undefined || (m.type === "stream" && sameName(m.topic, where.topic)))
      .map((m) => seenMessage(m));
  }

  conversationsOf(viewer: ZulipUser): SeenConversation[] {
    const conversations = new Map<string, SeenConversation>();
    for (const message of this.stored) {
      if (!message.recipientIds.includes(viewer.id)) continue;
      const key = conversationKey(message);
      let conversation = conversations.get(key);
      if (!conversation) {
        conversation = {
          conversation: key,
          type: message.type,
          ...(message.stream ? { stream: message.stream.name, topic: message.topic } : {}),
          participantIds: message.type === "private" ? message.participants.map((u) => u.id) : [],
          messages: [],
        };
        conversations.set(key, conversation);
      }
      conversation.messages.push(seenMessage(message));
    }
    return [...conversations.values()];
  }

  zuliprc(user: ZulipUser): string {
    return `[api]\nemail=${user.email}\nkey=${user.apiKey}\nsite=${this.settings.url}\n`;
  }

  /** Stops webhook deliveries and queue timers; waits for deliveries in flight to notice. */
  async close(): Promise<void> {
    this.closing.abort();
    for (const queue of this.queueMap.values()) queue.shutdown();
    await Promise.allSettled([...this.pendingWebhooks]);
  }

  // ---- outgoing webhooks ----

  private triggerWebhooks(message: StoredMessage): void {
    // Zulip lets no bot's message trigger a service bot, so that bots cannot loop.
    if (this.closing.signal.aborted || message.sender.isBot) return;
    for (const [botId, webhook] of this.webhooks) {
      const trigger =
        message.type === "private"
          ? message.recipientIds.includes(botId)
            ? "direct_message"
            : undefined
          : message.rendered.mentionedIds.includes(botId)
            ? "mention"
            : undefined;
      if (!trigger) continue;
      const bot = this.user(botId);
      const delivery: WebhookDelivery = {
        botId,
        messageId: message.id,
        trigger,
        url: webhook.url,
        attempts: 0,
        payload: {
          bot_email: bot.email,
          bot_full_name: bot.fullName,
          data: message.content,
          message: { ...wireMessage(message, false, this.settings.url), rendered_content: message.rendered.html },
          token: webhook.token,
          trigger,
        },
        done: false,
      };
      this.deliveries.push(delivery);
      const pending = this.deliver(bot, message, delivery).finally(() => {
        delivery.done = true;
        this.pendingWebhooks.delete(pending);
      });
      this.pendingWebhooks.add(pending);
    }
  }

  private async deliver(bot: ZulipUser, message: StoredMessage, delivery: WebhookDelivery): Promise<void> {
    const reply = await postOutgoingWebhook(delivery, {
      timeoutMs: this.settings.webhookTimeoutMs,
      zulipVersion: this.settings.zulipVersion,
      signal: this.closing.signal,
    });
    if (reply === undefined || this.closing.signal.aborted) return;
    const where =
      message.type === "private"
        ? { to: message.participants.filter((u) => u.id !== bot.id) }
        : { stream: message.stream as Stream, topic: message.topic };
    try {
      delivery.replyMessageId = this.post(bot, where, reply, "OutgoingWebhook").id;
    } catch (error) {
      // Zulip refuses the reply as it would any message (e.g. blank content) and tells the bot's owner.
      delivery.error = (error as Error).message;
    }
  }

  // ---- helpers ----

  private render(content: string): RenderedMessage {
    return renderMessage(content, {
      byId: (id) => this.users.get(id),
      byFullName: (name) => [...this.users.values()].find((u) => u.fullName.toLowerCase() === name.toLowerCase()),
    });
  }

  private narrowSubject(message: StoredMessage, flags: string[]): NarrowSubject {
    return {
      type: message.type,
      ...(message.stream ? { stream: message.stream.name, topic: message.topic } : {}),
      sender: message.sender,
      participants: message.participants,
      flags,
    };
  }

  /** A message the user received and that still exists; Zulip answers the same error for both cases. */
  private visibleMessage(user: ZulipUser, messageId: number): StoredMessage {
    const message = this.stored.find((m) => m.id === messageId);
    if (!message || message.deleted || !message.recipientIds.includes(user.id)) {
      throw new ZulipApiError(400, "Invalid message(s)", "BAD_REQUEST");
    }
    return message;
  }

  private dmRecipients(raw: string): ZulipUser[] {
    let listed: unknown[];
    try {
      const value = JSON.parse(raw);
      listed = Array.isArray(value) ? value : [value];
    } catch {
      // The older form: a comma-separated list of emails.
      listed = raw.split(",").map((s) => s.trim());
    }
    if (listed.length === 0) throw new ZulipApiError(400, "Message must have recipients", "BAD_REQUEST");
    return listed.map((who) => {
      if (typeof who === "number") {
        const user = this.users.get(who);
        if (!user) throw new ZulipApiError(400, `Invalid user ID ${who}`, "BAD_REQUEST");
        return user;
      }
      const user = typeof who === "string" ? this.findByEmail(who) : undefined;
      if (!user) throw new ZulipApiError(400, `Invalid email '${String(who)}'`, "BAD_REQUEST");
      return user;
    });
  }

  private streamFromParam(raw: string): Stream {
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // A bare stream name.
    }
    if (Array.isArray(value) && value.length === 1) value = value[0];
    const stream =
      typeof value === "number"
        ? [...this.streams.values()].find((s) => s.id === value)
        : typeof value === "string"
          ? this.streamNamed(value)
          : undefined;
    if (stream) return stream;
    if (typeof value === "number") throw new ZulipApiError(400, "Invalid channel ID", "BAD_REQUEST");
    throw new ZulipApiError(400, `Channel '${String(value)}' does not exist`, "STREAM_DOES_NOT_EXIST", {
      stream: String(value),
    });
  }

  private isSubscribed(stream: Stream, userId: number): boolean {
    return stream.subscribers === undefined || stream.subscribers.has(userId);
  }

  private queuesOfUser(userId: number): EventQueue[] {
    return [...this.queueMap.values()].filter((q) => q.settings.userId === userId);
  }

  private dmRecipientId(ids: number[]): number {
    const key = ids.join(",");
    let id = this.dmRecipientIds.get(key);
    if (id === undefined) {
      id = this.nextRecipientId++;
      this.dmRecipientIds.set(key, id);
    }
    return id;
  }

  private findByEmail(email: string): ZulipUser | undefined {
    const wanted = email.toLowerCase();
    return [...this.users.values()].find((u) => u.email === wanted);
  }

  private freeUserId(): number {
    while (this.users.has(this.nextUserId)) this.nextUserId++;
    return this.nextUserId++;
  }

  private defaultEmail(fullName: string, isBot: boolean, id: number): string {
    const slug =
      fullName
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, "") || `user${id}`;
    const local = isBot ? `${slug}-bot` : (slug.split("-")[0] ?? slug);
    const email = `${local}@zulip.test`;
    return this.findByEmail(email) ? `${local}${id}@zulip.test` : email;
  }
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function olderThan(message: StoredMessage, limitSeconds: number | null): boolean {
  return limitSeconds !== null && Date.now() - message.sentAt > limitSeconds * 1000;
}
