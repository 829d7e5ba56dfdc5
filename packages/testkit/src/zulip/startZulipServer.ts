import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { eventually } from "../eventually.js";
import { refuseConnectionsFor } from "../refuseConnectionsFor.js";
import { RateLimiter } from "./RateLimiter.js";
import { readBoolean } from "./readParam.js";
import { readRequestParams } from "./readRequestParams.js";
import { ZulipApiError } from "./ZulipApiError.js";
import { ZulipRealm } from "./ZulipRealm.js";
import type { RequestLogEntry, UserRef, ZulipServer, ZulipServerOptions, ZulipUser } from "./ZulipTypes.js";

const API_PREFIX = "/api/v1";
const MAX_BODY_BYTES = 25 * 1024 * 1024;

type Params = Record<string, string>;
type Handler = (user: ZulipUser, params: Params, response: ServerResponse, client: string) => Promise<object> | object;

/**
 * Starts a local Zulip server on a free port (loopback unless `listenAddress` says otherwise): the part of the REST
 * API and event system a bot uses, with Zulip's wire formats and error bodies, plus test-side controls (users,
 * injected messages, what each user sees, queue expiry, 429s, outgoing webhooks).
 */
export async function startZulipServer(options: ZulipServerOptions = {}): Promise<ZulipServer> {
  const queueIdleTimeoutMs = options.queueIdleTimeoutMs ?? 600_000;
  const requests: RequestLogEntry[] = [];
  const limiter = new RateLimiter();
  const server = createServer((request, response) => void serve(request, response));
  const host = options.listenAddress ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  const realm = new ZulipRealm({
    url,
    heartbeatMs: options.heartbeatMs ?? 50_000,
    webhookTimeoutMs: options.webhookTimeoutMs ?? 10_000,
    zulipVersion: options.zulipVersion ?? "10.4",
    zulipFeatureLevel: options.zulipFeatureLevel ?? 305,
  });
  const sweeper = setInterval(
    () => realm.expireIdleQueues(queueIdleTimeoutMs),
    Math.max(10, Math.min(1000, queueIdleTimeoutMs / 4)),
  );
  sweeper.unref();

  const messageRoute = /^\/messages\/(\d+)$/;
  const routes: Record<string, Partial<Record<string, Handler>>> = {
    "/users/me": { GET: (user) => realm.me(user) },
    "/register": { POST: (user, params) => realm.register(user, params) },
    "/events": {
      GET: (user, params, response) => pollEvents(user, params, response),
      DELETE: (user, params) => realm.deleteQueue(user, params),
    },
    "/messages": {
      GET: (user, params) => realm.fetchMessages(user, params),
      POST: (user, params, _response, client) => realm.sendFromApi(user, params, client),
    },
  };

  async function pollEvents(user: ZulipUser, params: Params, response: ServerResponse): Promise<object> {
    const queue = realm.queueFor(user, params);
    const lastEventId = params.last_event_id === undefined ? -1 : Number(params.last_event_id);
    if (!Number.isInteger(lastEventId)) throw new ZulipApiError(400, "Bad value for 'last_event_id'", "BAD_REQUEST");
    const dontBlock = readBoolean(params, "dont_block", false);
    let answered = false;
    // Only this request's own held poll is cancelled: 'close' also fires after a normal answer.
    response.on("close", () => {
      if (!answered) queue.cancelPoll();
    });
    const events = await queue.poll(lastEventId, dontBlock);
    answered = true;
    return { events, queue_id: queue.queueId };
  }

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = (request.method ?? "GET").toUpperCase();
    const address = new URL(request.url ?? "/", url);
    const entry: RequestLogEntry = { method, path: address.pathname, params: {}, status: 0, at: Date.now() };
    let headers: Record<string, string> = {};
    let status = 200;
    let body: Record<string, unknown>;
    try {
      entry.params = await readParams(request, address);
      const user = authenticate(request.headers.authorization);
      if (!user) {
        headers = limiter.take(undefined);
        throw unauthorized(request.headers.authorization);
      }
      entry.userId = user.id;
      headers = limiter.take(user.id);
      const handler = route(method, address.pathname);
      body = {
        result: "success",
        msg: "",
        ...(await handler(user, entry.params, response, clientName(request.headers["user-agent"]))),
      };
    } catch (error) {
      const failure =
        error instanceof ZulipApiError ? error : new ZulipApiError(500, "Internal server error", "BAD_REQUEST");
      if (!(error instanceof ZulipApiError)) entry.code = `internal: ${(error as Error).message}`;
      status = failure.status;
      headers = { ...headers, ...failure.headers };
      body = failure.body();
      if (entry.code === undefined) entry.code = failure.code;
      if (typeof failure.extra["retry-after"] === "number") entry.retryAfter = failure.extra["retry-after"];
    }
    entry.status = status;
    requests.push(entry);
    if (response.destroyed || response.writableEnded) return;
    response.writeHead(status, { "content-type": "application/json", ...headers });
    response.end(JSON.stringify(body));
  }

  function route(method: string, pathname: string): Handler {
    if (!pathname.startsWith(`${API_PREFIX}/`)) throw new ZulipApiError(404, "Not Found", "BAD_REQUEST");
    const path = pathname.slice(API_PREFIX.length);
    const single = messageRoute.exec(path);
    const handlers: Partial<Record<string, Handler>> | undefined = single
      ? {
          GET: (user, params) => realm.getMessage(user, Number(single[1]), params),
          PATCH: (user, params) => realm.edit(user, Number(single[1]), params),
          DELETE: (user) => realm.delete(user, Number(single[1])),
        }
      : routes[path];
    if (!handlers) throw new ZulipApiError(404, "Not Found", "BAD_REQUEST");
    const handler = handlers[method];
    if (!handler) throw new ZulipApiError(405, "Method Not Allowed", "BAD_REQUEST");
    return handler;
  }

  function authenticate(header: string | undefined): ZulipUser | undefined {
    const encoded = /^Basic\s+(\S+)$/i.exec(header ?? "")?.[1];
    if (!encoded) return undefined;
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon === -1) return undefined;
    return realm.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1));
  }

  function expireQueues(which?: UserRef | { queueId: string }): void {
    if (which === undefined) {
      realm.expireQueues(() => true);
      return;
    }
    if (typeof which === "object" && "queueId" in which) {
      realm.expireQueues((q) => q.queueId === which.queueId);
      return;
    }
    const userId = realm.user(which).id;
    realm.expireQueues((q) => q.settings.userId === userId);
  }

  let closed: Promise<void> | undefined;
  return {
    url,
    addUser: (spec) => realm.addUser(spec, false),
    addBot: (spec) => realm.addUser(spec, true),
    zuliprc: (user) => realm.zuliprc(realm.user(user)),
    addStream: (name, streamOptions) => realm.addStream(name, streamOptions?.subscribers).id,
    setOutgoingWebhook: (bot, webhook) => realm.setOutgoingWebhook(bot, webhook),
    setMessageDeletion: (policy, deletionOptions) => {
      realm.permissions.deletion = policy;
      if (deletionOptions?.limitSeconds !== undefined)
        realm.permissions.deleteLimitSeconds = deletionOptions.limitSeconds;
    },
    setMessageEditing: (settings) => {
      if (settings.allowed !== undefined) realm.permissions.editingAllowed = settings.allowed;
      if (settings.limitSeconds !== undefined) realm.permissions.editLimitSeconds = settings.limitSeconds;
    },
    sendDm: (from, to, content) =>
      realm.post(realm.user(from), { to: (Array.isArray(to) ? to : [to]).map((u) => realm.user(u)) }, content).id,
    sendStream: (from, streamName, topic, content, sendOptions) => {
      const stream = realm.streamNamed(streamName) ?? realm.addStream(streamName);
      const text = sendOptions?.mention ? `${mention(sendOptions.mention)} ${content}` : content;
      return realm.post(realm.user(from), { stream, topic }, text).id;
    },
    mention,
    editMessage: (user, messageId, content) => {
      realm.edit(realm.user(user), messageId, { content });
    },
    deleteMessage: (user, messageId) => {
      realm.delete(realm.user(user), messageId);
    },
    messagesSeenBy: (viewer, where) => realm.messagesSeenBy(realm.user(viewer), where),
    conversationsOf: (viewer) => realm.conversationsOf(realm.user(viewer)),
    get messages() {
      return realm.allMessages();
    },
    requests,
    webhookDeliveries: realm.deliveries,
    queues: (user) => realm.queueInfos(user === undefined ? undefined : realm.user(user)),
    expireQueues,
    restart: () => {
      realm.dropQueues();
      server.closeAllConnections();
    },
    refuseConnectionsFor: (durationMs) => refuseConnectionsFor(server, durationMs),
    rateLimitNext: (count, limitOptions) =>
      limiter.inject(
        count,
        limitOptions?.retryAfterSeconds ?? 1,
        limitOptions?.user === undefined ? undefined : realm.user(limitOptions.user).id,
      ),
    rateLimitFor: (durationMs, limitOptions) =>
      limiter.injectWindow(durationMs, limitOptions?.user === undefined ? undefined : realm.user(limitOptions.user).id),
    waitFor: (probe, waitOptions) => eventually(probe, waitOptions),
    close: () => {
      closed ??= (async () => {
        clearInterval(sweeper);
        await realm.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };

  function mention(user: UserRef): string {
    return `@**${realm.user(user).fullName}**`;
  }
}

/** The message's `client` as Zulip names it: the User-Agent's product name. */
function clientName(userAgent: string | undefined): string {
  return /^([^/\s]+)/.exec(userAgent ?? "")?.[1] ?? "Unspecified";
}

function unauthorized(header: string | undefined): ZulipApiError {
  if (header === undefined) {
    return new ZulipApiError(
      401,
      "Not logged in: API authentication or user session required",
      "UNAUTHORIZED",
      {},
      { "WWW-Authenticate": 'Basic realm="zulip"' },
    );
  }
  return new ZulipApiError(
    401,
    "Invalid API key",
    "INVALID_API_KEY",
    {},
    { "WWW-Authenticate": 'Basic realm="zulip"' },
  );
}

async function readParams(request: IncomingMessage, address: URL): Promise<Params> {
  const body = await readBody(request);
  try {
    return readRequestParams(address, request.headers["content-type"], body);
  } catch {
    throw new ZulipApiError(400, "Malformed request body", "BAD_REQUEST");
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ZulipApiError(413, "Request too large", "BAD_REQUEST");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
