import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type EventuallyOptions, eventually } from "../eventually.js";
import { refuseConnectionsFor } from "../refuseConnectionsFor.js";
import { BotApiError } from "./BotApiError.js";
import { ChatStore, type StoredChat } from "./ChatStore.js";
import { commandEntities } from "./commandEntities.js";
import { decodeBotApiParams } from "./decodeBotApiParams.js";
import { FileStore } from "./FileStore.js";
import { type BotApiHandler, commandListKey, messageMethods } from "./messageMethods.js";
import { BodyError, parseRequestBody } from "./parseRequestBody.js";
import { photoSizes } from "./photoSizes.js";
import { postJson } from "./postJson.js";
import { seenMessage } from "./seenMessage.js";
import type {
  CallbackAnswer,
  RequestRecord,
  TelegramFault,
  TelegramServer,
  TelegramServerOptions,
} from "./TelegramServer.js";
import type {
  TgBotCommand,
  TgCallbackQuery,
  TgChat,
  TgMessage,
  TgUpdate,
  TgUser,
  TgUserFromGetMe,
  TgWebhookInfo,
} from "./TelegramTypes.js";
import { UpdateQueue } from "./UpdateQueue.js";
import { canonicalMethodName, type SpecViolation, validateBotApiRequest } from "./validateBotApiRequest.js";

interface HeldPoll {
  wake(): void;
  terminate(): void;
}

interface Webhook {
  url: string;
  secret?: string;
  maxConnections: number;
  lastErrorDate?: number;
  lastErrorMessage?: string;
  generation: number;
}

const MAX_BODY_BYTES = 60 * 1024 * 1024;

/**
 * Starts a local Telegram Bot API server on a free port (loopback unless `listenAddress` says otherwise): the real
 * HTTP protocol for one bot, chats with test users, every request checked against the vendored Bot API spec
 * (data/telegram-bot-api). Tests drive users through the handle and read what each user sees.
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

  const chats = new ChatStore();
  const files = new FileStore();
  const queries = new Map<string, { answered: boolean }>();
  const requests: RequestRecord[] = [];
  const specViolations: SpecViolation[] = [];
  const callbackAnswers: CallbackAnswer[] = [];
  const commandLists = new Map<string, TgBotCommand[]>();
  const faults: (Required<Pick<TelegramFault, "status" | "retryAfter">> & { method?: string; remaining: number })[] =
    [];
  const updates = new UpdateQueue();
  let nextUserId = 100_001;
  let nextGroupId = 1;
  let nextQueryId = 1;
  // One setting for both ways of receiving, kept until a call passes it again ("the previous setting will be used").
  let allowedUpdates: string[] = [];
  let heldPoll: HeldPoll | undefined;
  let webhook: Webhook | undefined;
  let webhookGeneration = 0;
  let wakeDelivery: (() => void) | undefined;
  let closed = false;

  // ---- updates ----

  const enqueue = (update: Omit<TgUpdate, "update_id">): number => {
    if (closed) throw new Error("the Telegram test server is closed");
    const full = updates.push(update);
    heldPoll?.wake();
    wakeDelivery?.();
    return full.update_id;
  };

  // ---- request handling ----

  const violate = (method: string, problem: string, field?: string) => {
    specViolations.push({ method, problem, kind: "semantic", ...(field === undefined ? {} : { field }) });
  };

  const handlers: Record<string, BotApiHandler> = {
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
      if (params.drop_pending_updates === true) updates.dropAll();
      if (Array.isArray(params.allowed_updates)) allowedUpdates = params.allowed_updates as string[];
      heldPoll?.terminate();
      webhook = {
        url,
        ...(secret === undefined ? {} : { secret }),
        maxConnections: (params.max_connections as number | undefined) ?? 40,
        generation: ++webhookGeneration,
      };
      void deliverToWebhook(webhook);
      return true;
    },
    deleteWebhook: (params) => {
      webhook = undefined;
      wakeDelivery?.();
      if (params.drop_pending_updates === true) updates.dropAll();
      return true;
    },
    getWebhookInfo: () => webhookInfo(),
    ...messageMethods({ bot, chats, files, queries, callbackAnswers, commandLists, violate }),
  };

  const getUpdates = async (params: Record<string, unknown>, signal: AbortSignal): Promise<TgUpdate[]> => {
    if (webhook !== undefined) {
      throw new BotApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      );
    }
    const offset = (params.offset as number | undefined) ?? 0;
    if (offset > 0) updates.confirmBelow(offset);
    else if (offset < 0) updates.keepLast(-offset);
    if (Array.isArray(params.allowed_updates)) allowedUpdates = params.allowed_updates as string[];
    const limit = Math.min(Math.max((params.limit as number | undefined) ?? 100, 1), 100);
    const timeoutMs = Math.max((params.timeout as number | undefined) ?? 0, 0) * 1000;
    // Telegram ends the request that was already waiting: "terminated by other getUpdates request".
    heldPoll?.terminate();
    heldPoll = undefined;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const batch = updates.take(allowedUpdates, limit);
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
    pending_update_count: updates.pending,
    ...(webhook?.lastErrorDate === undefined ? {} : { last_error_date: webhook.lastErrorDate }),
    ...(webhook?.lastErrorMessage === undefined ? {} : { last_error_message: webhook.lastErrorMessage }),
    ...(webhook === undefined ? {} : { max_connections: webhook.maxConnections }),
    ...(webhook === undefined || allowedUpdates.length === 0 ? {} : { allowed_updates: allowedUpdates }),
  });

  // ---- webhook delivery ----

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
      const [update] = updates.take(allowedUpdates, 1);
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
        updates.confirmBelow(update.update_id + 1);
        await runWebhookReply(body);
        continue;
      }
      target.lastErrorDate = Math.floor(Date.now() / 1000);
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
      // A held poll the client gave up on (telegraf's stop aborts it): nobody reads this answer.
      if (signal.aborted) {
        record(499, params, "client closed the request");
        return { status: 499, body: { ok: true, result } };
      }
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
      const data = fileRoute[1] === token ? files.bytesAt(decodeURIComponent(fileRoute[2] as string)) : undefined;
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
  const host = options.listenAddress ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  // ---- the test-side handle ----

  const userMessage = (
    from: TgUser,
    chat: TgChat | undefined,
    content: Omit<TgMessage, "message_id" | "chat" | "date" | "from">,
    readable: (stored: StoredChat) => boolean,
  ): number => {
    const stored = chats.get(chat?.id ?? from.id);
    if (!stored.members.has(from.id)) throw new Error(`user ${from.id} is not in chat ${stored.chat.id}`);
    const message = chats.addMessage(stored, "user", { from, ...content });
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
    apiRoot: `http://${host}:${port}/`,
    token,
    bot,
    createUser(userOptions = {}) {
      const id = nextUserId++;
      const user: TgUser = { id, is_bot: false, first_name: userOptions.first_name ?? `User${id}`, ...userOptions };
      chats.add(
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
      chats.add(chat, [bot.id, ...(chatOptions.members ?? []).map((member) => member.id)]);
      return chat;
    },
    privateChat(user) {
      return chats.get(user.id).chat;
    },
    sendText(from, text, textOptions = {}) {
      const stored = chats.get(textOptions.chat?.id ?? from.id);
      const replyTo =
        textOptions.replyTo === undefined ? undefined : chats.findMessage(stored, textOptions.replyTo)?.raw;
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
      const photo = files.photo(photoSizes(Buffer.from(jpeg)));
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
    sendDocument(from, data, documentOptions) {
      const document = files.document(Buffer.from(data), documentOptions.fileName, documentOptions.mimeType);
      const caption = documentOptions.caption;
      const entities = caption === undefined ? [] : commandEntities(caption);
      return userMessage(
        from,
        documentOptions.chat,
        {
          document,
          ...(caption === undefined ? {} : { caption }),
          ...(entities.length > 0 ? { caption_entities: entities } : {}),
        },
        (chat) => botReads(chat, caption ?? "", undefined),
      );
    },
    editText(from, chatId, messageId, text) {
      const stored = chats.get(chatId);
      const message = chats.findMessage(stored, messageId);
      if (message === undefined || message.from !== "user" || message.raw.from?.id !== from.id) {
        throw new Error(`no message ${messageId} of user ${from.id} in chat ${chatId}`);
      }
      const entities = commandEntities(text);
      message.raw = { ...message.raw, text, edit_date: Math.floor(Date.now() / 1000) };
      if (entities.length > 0) message.raw.entities = entities;
      else delete message.raw.entities;
      message.edits += 1;
      if (botReads(stored, text, message.raw.reply_to_message)) enqueue({ edited_message: message.raw });
    },
    pressButton(from, chatId, messageId, button) {
      const stored = chats.get(chatId);
      const message = chats.findMessage(stored, messageId);
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
      return chats.get(chatId).messages.map((message) => seenMessage(chatId, message));
    },
    message(chatId, messageId) {
      const message = chats.find(chatId)?.messages.find((candidate) => candidate.raw.message_id === messageId);
      return message === undefined ? undefined : seenMessage(chatId, message);
    },
    messageAsSent(chatId, messageId) {
      const message = chats.find(chatId)?.messages.find((candidate) => candidate.raw.message_id === messageId);
      return message === undefined
        ? undefined
        : seenMessage(chatId, { ...message, raw: message.sent, deleted: false, edits: 0 });
    },
    get botMessages() {
      return chats
        .all()
        .flatMap((chat) =>
          chat.messages
            .filter((message) => message.from === "bot")
            .map((message) => seenMessage(chat.chat.id, message)),
        );
    },
    callbackAnswers,
    get commands() {
      return commandLists.get(commandListKey({})) ?? [];
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
    refuseConnectionsFor: (durationMs) => refuseConnectionsFor(server, durationMs),
    async postToWebhook(update, postOptions = {}) {
      if (webhook === undefined) throw new Error("no webhook is set");
      const secret = postOptions.secret === undefined ? webhook.secret : (postOptions.secret ?? undefined);
      return postJson(deliveryUrl(webhook.url), typeof update === "string" ? update : JSON.stringify(update), secret);
    },
    settled(timeoutMs = 10_000) {
      return updates.settled(timeoutMs);
    },
    async waitFor<T>(probe: () => T | undefined | null | false, waitOptions?: EventuallyOptions): Promise<T> {
      return (await eventually(probe, waitOptions)) as T;
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
