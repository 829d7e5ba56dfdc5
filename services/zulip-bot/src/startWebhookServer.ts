import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { HostPort } from "@totp-custody/chat";
import type { Logger } from "pino";
import { z } from "zod";
import type { MessageIntake } from "./MessageIntake.js";

/** Zulip's messages are at most 10000 characters; the payload adds a few fields around one. */
const MAX_BODY_BYTES = 256 * 1024;

/** What Zulip's outgoing webhook posts (the fields the bot reads; the message has the event's shape). */
const payloadSchema = z.object({
  token: z.string(),
  // "private_message" is the name before Zulip 8.0 (feature level 201).
  trigger: z.enum(["direct_message", "private_message", "mention"]),
  message: z.object({
    id: z.number().int(),
    type: z.enum(["private", "stream"]),
    sender_id: z.number().int(),
    sender_email: z.string(),
    sender_full_name: z.string().default(""),
    content: z.string(),
    display_recipient: z.union([
      z.string(),
      z.array(z.object({ id: z.number().int(), email: z.string(), full_name: z.string() })),
    ]),
    subject: z.string().optional(),
  }),
});

export interface WebhookServer {
  port: number;
  close(): Promise<void>;
}

/** Compares digests, so the time taken says nothing about the token, its length included. */
function sameToken(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function json(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/**
 * The several-replica mode: Zulip's outgoing webhook POSTs each direct message and mention to this endpoint, and
 * any replica can answer, since none keeps anything another needs. A payload without the configured token is
 * refused (403) and not read further. A valid one is answered at once with `{response_not_required: true}`, and
 * the message is answered afterwards through the API: Zulip gives up on a webhook request after 10 s and posts it
 * again (to any replica), so an answer held past that, waiting for a restarting totp-core, would be given twice.
 * The price: a replica that dies between taking a message and answering it loses that message, which Zulip does
 * not send again; at SIGTERM the replica answers the messages it holds before it exits.
 */
export async function startWebhookServer(
  listen: HostPort,
  token: string,
  intake: MessageIntake,
  log: Logger,
): Promise<WebhookServer> {
  const server = createServer((request, response) => {
    void handle(request, response).catch((err: unknown) => {
      log.error({ err }, "webhook request failed");
      if (!response.headersSent) json(response, 500, { result: "error", msg: "internal error" });
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== "POST") return json(response, 405, { result: "error", msg: "POST only" });
    const body = await readBody(request);
    if (body === undefined) return json(response, 413, { result: "error", msg: "payload too large" });
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      return json(response, 400, { result: "error", msg: "expected a JSON payload" });
    }
    const given = (payload as { token?: unknown } | null)?.token;
    if (typeof given !== "string" || !sameToken(given, token)) {
      log.warn({ remote: request.socket.remoteAddress }, "webhook payload with a wrong token refused");
      return json(response, 403, { result: "error", msg: "wrong token" });
    }
    const parsed = payloadSchema.safeParse(payload);
    if (!parsed.success) return json(response, 400, { result: "error", msg: "not an outgoing-webhook payload" });
    const { message, trigger } = parsed.data;
    json(response, 200, { response_not_required: true });
    void intake.take({ message, mentioned: trigger === "mention" });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    // Stops taking payloads; requests in hand finish (the intake's drain waits for their answers).
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
