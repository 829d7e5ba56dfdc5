import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import zulip, { type ZulipClient, type ZulipReply } from "zulip-js";
import { startZulipServer, type ZulipServer, type ZulipUser } from "../src/index.js";

interface MessageEvent {
  id: number;
  type: string;
  flags?: string[];
  message?: Record<string, unknown>;
  [field: string]: unknown;
}

let server: ZulipServer;
let bot: ZulipUser;
let alice: ZulipUser;
let bob: ZulipUser;

async function start(options?: Parameters<typeof startZulipServer>[0]): Promise<void> {
  server = await startZulipServer(options);
  bot = server.addBot({ fullName: "TOTP Bot" });
  alice = server.addUser({ fullName: "Alice Doe" });
  bob = server.addUser({ fullName: "Bob Roe" });
}

function clientOf(user: ZulipUser): Promise<ZulipClient> {
  return zulip({ realm: server.url, username: user.email, apiKey: user.apiKey });
}

/** A raw request, for what zulip-js hides (status codes, headers). */
async function raw(
  path: string,
  init: { method?: string; user?: ZulipUser; auth?: string; body?: string; contentType?: string } = {},
): Promise<{ status: number; headers: Headers; body: ZulipReply }> {
  const headers: Record<string, string> = {};
  const auth = init.auth ?? (init.user ? `${init.user.email}:${init.user.apiKey}` : undefined);
  if (auth !== undefined) headers.authorization = `Basic ${Buffer.from(auth).toString("base64")}`;
  if (init.contentType) headers["content-type"] = init.contentType;
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as ZulipReply };
}

async function register(client: ZulipClient, params: Record<string, string | unknown[]> = {}): Promise<string> {
  const reply = await client.queues.register({ event_types: ["message"], ...params });
  expect(reply.result).toBe("success");
  return reply.queue_id as string;
}

async function poll(client: ZulipClient, queueId: string, lastEventId = -1, dontBlock = true): Promise<MessageEvent[]> {
  const reply = await client.events.retrieve({
    queue_id: queueId,
    last_event_id: lastEventId,
    dont_block: String(dontBlock),
  });
  expect(reply).toMatchObject({ result: "success", queue_id: queueId });
  return reply.events as MessageEvent[];
}

describe("startZulipServer with the real zulip-js", () => {
  beforeEach(async () => {
    await start();
  });
  afterEach(async () => {
    await server.close();
  });

  it("authenticates with Basic auth and answers users/me, with rate-limit headers on every reply", async () => {
    const me = await (await clientOf(alice)).users.me.getProfile();
    expect(me).toMatchObject({
      result: "success",
      msg: "",
      user_id: alice.id,
      email: alice.email,
      full_name: "Alice Doe",
      is_bot: false,
    });
    const botMe = await (await clientOf(bot)).users.me.getProfile();
    expect(botMe).toMatchObject({ user_id: bot.id, is_bot: true, full_name: "TOTP Bot" });

    const wrongKey = await zulip({ realm: server.url, username: alice.email, apiKey: "not-the-key" });
    expect(await wrongKey.users.me.getProfile()).toEqual({
      result: "error",
      msg: "Invalid API key",
      code: "INVALID_API_KEY",
    });
    const anonymous = await raw("/users/me");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ result: "error", code: "UNAUTHORIZED" });
    const known = await raw("/users/me", { user: alice });
    const unknown = await raw("/no/such/endpoint", { user: alice });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ result: "error", msg: "Not Found" });
    for (const reply of [anonymous, known, unknown]) {
      expect(Number(reply.headers.get("x-ratelimit-limit"))).toBe(200);
      expect(Number(reply.headers.get("x-ratelimit-remaining"))).toBeLessThan(200);
      expect(Number(reply.headers.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000 - 1);
    }
    expect(server.requests.map((r) => [r.method, r.path, r.status])).toContainEqual(["GET", "/api/v1/users/me", 401]);
  });

  it("listens where listenAddress says and names that address in its url", async () => {
    await server.close();
    // Another loopback address stands for a cluster's bridge gateway: reachable there, and only there.
    await start({ listenAddress: "127.0.0.2" });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    expect(await (await clientOf(alice)).users.me.getProfile()).toMatchObject({ user_id: alice.id });
    await expect(fetch(`${server.url.replace("127.0.0.2", "127.0.0.1")}/api/v1/users/me`)).rejects.toThrow();
  });

  it("reads a zuliprc file as zulip-js writes its config", async () => {
    const dir = await mkdtemp(join(tmpdir(), "zuliprc-"));
    try {
      const path = join(dir, "zuliprc");
      await writeFile(path, server.zuliprc(bot));
      const me = await (await zulip({ zuliprc: path })).users.me.getProfile();
      expect(me).toMatchObject({ result: "success", user_id: bot.id });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("takes parameters from multipart (zulip-js POST), urlencoded bodies and query strings", async () => {
    const sent = await (await clientOf(alice)).messages.send({ type: "direct", to: [bot.id], content: "multipart" });
    expect(sent).toMatchObject({ result: "success", id: expect.any(Number) });
    const form = await raw("/messages", {
      method: "POST",
      user: alice,
      contentType: "application/x-www-form-urlencoded",
      body: new URLSearchParams({ type: "private", to: JSON.stringify([bot.email]), content: "urlencoded" }).toString(),
    });
    expect(form.body).toMatchObject({ result: "success", id: expect.any(Number) });
    const query = await raw(
      `/messages?${new URLSearchParams({ type: "direct", to: `[${bot.id}]`, content: "query" })}`,
      {
        method: "POST",
        user: alice,
      },
    );
    expect(query.body).toMatchObject({ result: "success" });
    expect(server.messagesSeenBy(bot, { with: alice }).map((m) => m.content)).toEqual([
      "multipart",
      "urlencoded",
      "query",
    ]);
    expect(server.requests.at(-3)?.params).toMatchObject({ type: "direct", to: `[${bot.id}]`, content: "multipart" });
    const malformed = await raw("/messages", {
      method: "POST",
      user: alice,
      contentType: "multipart/form-data",
      body: "x",
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ result: "error", msg: "Malformed request body", code: "BAD_REQUEST" });
  });

  it("registers a queue and echoes a DM to both participants with Zulip's message event shape", async () => {
    const botClient = await clientOf(bot);
    const aliceClient = await clientOf(alice);
    const registered = await botClient.queues.register({ event_types: ["message"], apply_markdown: "false" });
    expect(registered).toMatchObject({
      result: "success",
      queue_id: expect.any(String),
      last_event_id: -1,
      zulip_feature_level: expect.any(Number),
      zulip_version: expect.any(String),
      event_queue_longpoll_timeout_seconds: expect.any(Number),
    });
    const botQueue = registered.queue_id as string;
    const aliceQueue = await register(aliceClient);
    expect(server.queues(bot)).toMatchObject([{ queueId: botQueue, userId: bot.id, applyMarkdown: false }]);

    const id = server.sendDm(alice, bot, "code **github**");
    const [event] = await poll(botClient, botQueue);
    expect(event).toEqual({
      type: "message",
      id: 0,
      flags: [],
      message: {
        id,
        type: "private",
        sender_id: alice.id,
        sender_email: alice.email,
        sender_full_name: "Alice Doe",
        sender_realm_str: "zulip",
        display_recipient: [bot, alice]
          .sort((a, b) => a.id - b.id)
          .map((u) => ({ id: u.id, email: u.email, full_name: u.fullName, is_mirror_dummy: false })),
        subject: "",
        recipient_id: expect.any(Number),
        content: "code **github**",
        content_type: "text/x-markdown",
        timestamp: expect.any(Number),
        client: "test",
        is_me_message: false,
        reactions: [],
        submessages: [],
        topic_links: [],
        avatar_url: expect.any(String),
      },
    });
    // The sender's own queue gets it too, rendered (apply_markdown defaults to true) and flagged read.
    const [echo] = await poll(aliceClient, aliceQueue);
    expect(echo?.flags).toEqual(["read"]);
    expect(echo?.message).toMatchObject({
      id,
      content: "<p>code <strong>github</strong></p>",
      content_type: "text/html",
    });
    // The bot's reply through zulip-js is echoed into the bot's own queue.
    const reply = await botClient.messages.send({ type: "private", to: [alice.id], content: "hi" });
    const botEvents = await poll(botClient, botQueue, 0);
    expect(botEvents.map((e) => [e.message?.id, e.message?.sender_id, e.flags])).toEqual([
      [reply.id, bot.id, ["read"]],
    ]);
  });

  it("keeps events until acknowledged by last_event_id, and holds a poll until an event arrives", async () => {
    const botClient = await clientOf(bot);
    const queue = await register(botClient);
    expect(await poll(botClient, queue)).toEqual([]);
    server.sendDm(alice, bot, "one");
    server.sendDm(alice, bot, "two");
    const first = await poll(botClient, queue);
    expect(first.map((e) => e.id)).toEqual([0, 1]);
    // Not acknowledged yet: the same events again.
    expect((await poll(botClient, queue, -1)).map((e) => e.id)).toEqual([0, 1]);
    expect((await poll(botClient, queue, 0)).map((e) => e.id)).toEqual([1]);
    const held = poll(botClient, queue, 1, false);
    await server.waitFor(() => server.queues(bot)[0]?.polling, { what: "the poll held" });
    server.sendDm(bob, bot, "three");
    const released = await held;
    expect(released.map((e) => [e.id, e.message?.content])).toEqual([[2, "<p>three</p>"]]);
  });

  it("answers a held poll with a heartbeat after the configured interval", async () => {
    await server.close();
    await start({ heartbeatMs: 200 });
    const botClient = await clientOf(bot);
    const queue = await register(botClient);
    const events = await poll(botClient, queue, -1, false);
    expect(events).toEqual([{ type: "heartbeat", id: 0 }]);
    expect(await poll(botClient, queue, 0)).toEqual([]);
  });

  it("honours event_types: a message-only queue gets no edit or deletion events", async () => {
    const botClient = await clientOf(bot);
    const onlyMessages = await register(botClient);
    const everything = await register(botClient, { event_types: ["message", "update_message", "delete_message"] });
    const id = server.sendDm(alice, bot, "before");
    const aliceClient = await clientOf(alice);
    expect(await aliceClient.messages.update({ message_id: id, content: "after" })).toMatchObject({
      result: "success",
    });
    expect(await botClient.messages.deleteById({ message_id: id })).toMatchObject({ result: "success" });
    expect((await poll(botClient, onlyMessages)).map((e) => e.type)).toEqual(["message"]);
    const all = await poll(botClient, everything);
    expect(all.map((e) => e.type)).toEqual(["message", "update_message", "delete_message"]);
    expect(all[1]).toMatchObject({ message_id: id, orig_content: "before", content: "after", user_id: alice.id });
    expect(all[2]).toMatchObject({ message_id: id, message_type: "private" });
    // The same, from the test side.
    const second = server.sendDm(alice, bot, "typo");
    server.editMessage(alice, second, "fixed");
    server.deleteMessage(alice, second);
    expect(
      (await poll(botClient, everything, all.at(-1)?.id)).map((e) => [e.type, e.message_id ?? e.message?.id]),
    ).toEqual([
      ["message", second],
      ["update_message", second],
      ["delete_message", second],
    ]);
    expect(() => server.editMessage(bob, second, "x")).toThrow(/Invalid message/);
  });

  it("applies narrows with Zulip's AND semantics: a DMs-only queue misses stream mentions", async () => {
    const botClient = await clientOf(bot);
    const dms = await register(botClient, { narrow: [["is", "dm"]] });
    const mentions = await register(botClient, { narrow: [["is", "mentioned"]] });
    const general = await register(botClient, { narrow: [["stream", "general"]] });
    const mentionsInGeneral = await register(botClient, {
      narrow: [
        ["stream", "general"],
        ["is", "mentioned"],
      ],
    });
    const all = await register(botClient, { narrow: [] });
    const dm = server.sendDm(alice, bot, "code github");
    const mention = server.sendStream(alice, "general", "ops", "code github", { mention: bot });
    const plain = server.sendStream(bob, "general", "ops", "no mention");
    const elsewhere = server.sendStream(bob, "random", "chat", `${server.mention(bot)} hello`);
    const silent = server.sendStream(bob, "random", "chat", `@_**${bot.fullName}** quietly`);
    const ids = async (queue: string) => (await poll(botClient, queue)).map((e) => e.message?.id);
    expect(await ids(dms)).toEqual([dm]);
    expect(await ids(mentions)).toEqual([mention, elsewhere]);
    expect(await ids(general)).toEqual([mention, plain]);
    expect(await ids(mentionsInGeneral)).toEqual([mention]);
    expect(await ids(all)).toEqual([dm, mention, plain, elsewhere, silent]);
    const [mentionEvent] = (await poll(botClient, mentions)).filter((e) => e.message?.id === mention);
    expect(mentionEvent?.flags).toEqual(["mentioned"]);
    expect(mentionEvent?.message).toMatchObject({
      type: "stream",
      display_recipient: "general",
      subject: "ops",
      stream_id: expect.any(Number),
      content: expect.stringContaining(`<span class="user-mention" data-user-id="${bot.id}">@TOTP Bot</span>`),
    });
    expect((await botClient.queues.register({ narrow: [["is", "nonsense"]] })).result).toBe("error");
  });

  it("flags wildcard mentions in channels, which an is:mentioned narrow brings", async () => {
    const botClient = await clientOf(bot);
    const mentions = await register(botClient, { narrow: [["is", "mentioned"]] });
    const everyone = server.sendStream(alice, "general", "ops", "@**all** the deploy is done");
    const topic = server.sendStream(alice, "general", "ops", "@**topic** still here?");
    const silent = server.sendStream(alice, "general", "ops", "@_**all** quietly");
    const events = await poll(botClient, mentions);
    // @**topic** flags only those who had posted in the topic, which the bot had not.
    expect(events.map((e) => [e.message?.id, e.flags])).toEqual([
      [everyone, ["stream_wildcard_mentioned", "wildcard_mentioned"]],
    ]);
    expect(events.map((e) => e.message?.id)).not.toContain(topic);
    expect(events.map((e) => e.message?.id)).not.toContain(silent);
  });

  it("gives a mentioned bot the message even where it is not subscribed; @**topic** flags the topic's participants", async () => {
    server.addStream("team", { subscribers: [alice, bob] });
    const botClient = await clientOf(bot);
    const queue = await register(botClient);
    const aliceClient = await clientOf(alice);
    const aliceQueue = await register(aliceClient);
    server.sendStream(bob, "team", "plans", "no bot here");
    const mention = server.sendStream(bob, "team", "plans", "help", { mention: bot });
    expect((await poll(botClient, queue)).map((e) => [e.message?.id, e.flags])).toEqual([[mention, ["mentioned"]]]);
    const topic = server.sendStream(alice, "team", "plans", "@**topic** ready?");
    const aliceFlags = (await poll(aliceClient, aliceQueue)).find((e) => e.message?.id === topic)?.flags;
    // Alice had not posted in the topic before, so only Bob (who had) is flagged.
    expect(aliceFlags).toEqual(["read"]);
    expect(server.messagesSeenBy(bot, { stream: "team" }).map((m) => m.id)).toEqual([mention]);
    const bobQueue = await register(await clientOf(bob));
    const again = server.sendStream(alice, "team", "plans", "@**topic** now?");
    const bobEvents = await poll(await clientOf(bob), bobQueue);
    expect(bobEvents.find((e) => e.message?.id === again)?.flags).toEqual([
      "topic_wildcard_mentioned",
      "wildcard_mentioned",
    ]);
  });

  it("fetches a user's messages around an anchor with GET /messages and a narrow", async () => {
    const botClient = await clientOf(bot);
    const dm1 = server.sendDm(alice, bot, "one");
    const mention = server.sendStream(alice, "general", "ops", "two", { mention: bot });
    const dm2 = server.sendDm(bob, bot, "three");
    server.sendDm(alice, bob, "not for the bot");
    const dms = await botClient.callEndpoint("/messages", "GET", {
      anchor: dm1,
      num_before: 0,
      num_after: 10,
      narrow: JSON.stringify([{ operator: "is", operand: "dm" }]),
      apply_markdown: "false",
    });
    expect(dms).toMatchObject({ result: "success", found_anchor: true, found_newest: true, history_limited: false });
    expect((dms.messages as MessageEvent[]).map((m) => [m.id, m.content, m.flags])).toEqual([
      [dm1, "one", []],
      [dm2, "three", []],
    ]);
    const newest = await botClient.callEndpoint("/messages", "GET", { anchor: "newest", num_before: 2, num_after: 0 });
    expect((newest.messages as MessageEvent[]).map((m) => m.id)).toEqual([mention, dm2]);
    expect(newest).toMatchObject({ found_newest: true, found_oldest: false });
    const excluded = await botClient.callEndpoint("/messages", "GET", {
      anchor: mention,
      include_anchor: "false",
      num_before: 5,
      num_after: 5,
      narrow: JSON.stringify([["is", "mentioned"]]),
    });
    expect(excluded.messages).toEqual([]);
    expect(await botClient.callEndpoint("/messages", "GET", { anchor: "newest", num_after: 0 })).toMatchObject({
      code: "REQUEST_VARIABLE_MISSING",
      var_name: "num_before",
    });
  });

  it("delivers stream messages only to subscribers", async () => {
    server.addStream("private-team", { subscribers: [alice, bob] });
    const botClient = await clientOf(bot);
    const queue = await register(botClient);
    const aliceClient = await clientOf(alice);
    const aliceQueue = await register(aliceClient);
    server.sendStream(bob, "private-team", "t", "secret plans");
    expect(await poll(botClient, queue)).toEqual([]);
    expect((await poll(aliceClient, aliceQueue)).map((e) => e.message?.content)).toEqual(["<p>secret plans</p>"]);
    expect(server.messagesSeenBy(bot)).toEqual([]);
  });

  it("expires idle queues with BAD_EVENT_QUEUE_ID, and on demand, releasing a held poll", async () => {
    await server.close();
    await start({ queueIdleTimeoutMs: 150 });
    const botClient = await clientOf(bot);
    const idle = await register(botClient);
    await server.waitFor(() => server.queues(bot).length === 0, { what: "the idle queue collected" });
    const expired = await raw(`/events?queue_id=${encodeURIComponent(idle)}&last_event_id=-1`, { user: bot });
    expect(expired.status).toBe(400);
    expect(expired.body).toEqual({
      result: "error",
      msg: `Bad event queue id: ${idle}`,
      code: "BAD_EVENT_QUEUE_ID",
      queue_id: idle,
    });
    // A held poll keeps its queue alive past the idle time; expiring it on demand answers the poll at once.
    const busy = await register(botClient);
    const held = botClient.events.retrieve({ queue_id: busy, last_event_id: -1 });
    await server.waitFor(() => server.queues(bot)[0]?.polling, { what: "the poll held" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.queues(bot).map((q) => q.queueId)).toEqual([busy]);
    server.expireQueues(bot);
    expect(await held).toMatchObject({ result: "error", code: "BAD_EVENT_QUEUE_ID", queue_id: busy });
  });

  it("loses every queue on restart, cutting a held poll", async () => {
    const botClient = await clientOf(bot);
    const queue = await register(botClient);
    const held = botClient.events.retrieve({ queue_id: queue, last_event_id: -1 });
    await server.waitFor(() => server.queues(bot)[0]?.polling, { what: "the poll held" });
    server.restart();
    await expect(held).rejects.toThrow();
    expect(await botClient.events.retrieve({ queue_id: queue, last_event_id: -1 })).toMatchObject({
      code: "BAD_EVENT_QUEUE_ID",
    });
    const again = await register(botClient);
    server.sendDm(alice, bot, "after the restart");
    expect((await poll(botClient, again)).map((e) => e.message?.content)).toEqual(["<p>after the restart</p>"]);
  });

  it("deletes a queue with DELETE /events; another user's queue id is unknown", async () => {
    const botClient = await clientOf(bot);
    const queue = await register(botClient);
    const aliceClient = await clientOf(alice);
    expect(await aliceClient.events.retrieve({ queue_id: queue, last_event_id: -1 })).toMatchObject({
      code: "BAD_EVENT_QUEUE_ID",
    });
    expect(await botClient.queues.deregister({ queue_id: queue })).toEqual({ result: "success", msg: "" });
    expect(await botClient.events.retrieve({ queue_id: queue, last_event_id: -1 })).toMatchObject({
      code: "BAD_EVENT_QUEUE_ID",
    });
    expect(server.queues()).toEqual([]);
  });

  it("sends direct, private and stream messages and refuses bad ones as Zulip does", async () => {
    const aliceClient = await clientOf(alice);
    const group = await aliceClient.messages.send({ type: "direct", to: [bot.email, bob.email], content: "all of us" });
    expect(group.result).toBe("success");
    expect(server.messagesSeenBy(bob, { with: [alice, bot] }).map((m) => m.id)).toEqual([group.id]);
    expect(server.messagesSeenBy(bob, { with: alice })).toEqual([]);
    server.addStream("general");
    const stream = await aliceClient.messages.send({ type: "stream", to: "general", topic: "ops", content: "hello" });
    expect(server.messagesSeenBy(bot, { stream: "general", topic: "ops" }).map((m) => m.id)).toEqual([stream.id]);
    expect(await aliceClient.messages.send({ type: "stream", to: "nowhere", topic: "t", content: "x" })).toEqual({
      result: "error",
      msg: "Channel 'nowhere' does not exist",
      code: "STREAM_DOES_NOT_EXIST",
      stream: "nowhere",
    });
    expect(await aliceClient.messages.send({ type: "direct", to: ["nobody@zulip.test"], content: "x" })).toMatchObject({
      result: "error",
      msg: "Invalid email 'nobody@zulip.test'",
    });
    expect(await aliceClient.messages.send({ type: "direct", to: [bot.id] })).toMatchObject({
      code: "REQUEST_VARIABLE_MISSING",
      var_name: "content",
    });
    expect(await aliceClient.messages.send({ type: "stream", to: "general", content: "x" })).toEqual({
      result: "error",
      msg: "Missing topic",
      code: "BAD_REQUEST",
    });
    expect(await aliceClient.messages.send({ type: "stream", to: "general", topic: " ", content: "x" })).toMatchObject({
      msg: "Topic can't be empty",
    });
  });

  it("edits a message's content by its sender only, and records the history", async () => {
    const botClient = await clientOf(bot);
    const content = "code\n```spoiler Code\n123456\n```";
    const sent = await botClient.messages.send({ type: "direct", to: [alice.id], content });
    const id = sent.id as number;
    expect(await botClient.messages.update({ message_id: id, content: "expired" })).toMatchObject({
      result: "success",
    });
    const [seen] = server.messagesSeenBy(alice, { with: bot });
    expect(seen).toMatchObject({ content: "expired", visibleText: "expired" });
    expect(seen?.edits).toEqual([{ userId: bot.id, at: expect.any(Number), previousContent: content }]);
    // The first version stays readable as sent, its spoiler too.
    expect(seen?.spoilers).toEqual([]);
    expect(seen?.asSent).toEqual({
      content,
      visibleText: expect.not.stringContaining("123456"),
      spoilers: [{ header: "Code", body: "123456" }],
    });
    expect(await (await clientOf(alice)).messages.update({ message_id: id, content: "mine" })).toEqual({
      result: "error",
      msg: "You don't have permission to edit this message",
      code: "BAD_REQUEST",
    });
    expect(await botClient.messages.update({ message_id: 999_999, content: "x" })).toEqual({
      result: "error",
      msg: "Invalid message(s)",
      code: "BAD_REQUEST",
    });
    expect(await botClient.messages.getById({ message_id: id })).toMatchObject({
      result: "success",
      raw_content: "expired",
      message: { id, content: "<p>expired</p>" },
    });
  });

  it("refuses edits when the realm turns editing off or the time limit has passed", async () => {
    const botClient = await clientOf(bot);
    const id = (await botClient.messages.send({ type: "direct", to: [alice.id], content: "code" })).id as number;
    server.setMessageEditing({ allowed: false });
    expect(await botClient.messages.update({ message_id: id, content: "expired" })).toEqual({
      result: "error",
      msg: "Your organization has turned off message editing",
      code: "BAD_REQUEST",
    });
    server.setMessageEditing({ allowed: true, limitSeconds: 0 });
    await server.waitFor(async () => {
      const reply = await botClient.messages.update({ message_id: id, content: "expired" });
      return reply.msg === "The time limit for editing this message has passed" && reply.code === "BAD_REQUEST";
    });
    server.setMessageEditing({ limitSeconds: null });
    expect(await botClient.messages.update({ message_id: id, content: "expired" })).toMatchObject({
      result: "success",
    });
    server.setMessageDeletion("own", { limitSeconds: 0 });
    await server.waitFor(async () => {
      const reply = await botClient.messages.deleteById({ message_id: id });
      return reply.msg === "The time limit for deleting this message has passed";
    });
    server.setMessageDeletion("any");
    expect(await botClient.messages.deleteById({ message_id: id })).toMatchObject({ result: "success" });
  });

  it("deletes messages as the realm's deletion policy allows", async () => {
    const botClient = await clientOf(bot);
    const fromAlice = server.sendDm(alice, bot, "add github JBSWY3DPEHPK3PXP");
    server.setMessageDeletion("none");
    const refused = await botClient.messages.deleteById({ message_id: fromAlice });
    expect(refused).toEqual({
      result: "error",
      msg: "You don't have permission to delete this message",
      code: "BAD_REQUEST",
    });
    server.setMessageDeletion("own");
    expect((await botClient.messages.deleteById({ message_id: fromAlice })).code).toBe("BAD_REQUEST");
    const own = (await botClient.messages.send({ type: "direct", to: [alice.id], content: "123456" })).id as number;
    expect(await botClient.messages.deleteById({ message_id: own })).toEqual({ result: "success", msg: "" });
    server.setMessageDeletion("any");
    expect(await botClient.messages.deleteById({ message_id: fromAlice })).toEqual({ result: "success", msg: "" });
    expect(server.messagesSeenBy(alice, { with: bot }).map((m) => [m.id, m.deleted, m.deletedBy])).toEqual([
      [fromAlice, true, bot.id],
      [own, true, bot.id],
    ]);
    expect(server.messagesSeenBy(alice, { includeDeleted: false })).toEqual([]);
    expect(await botClient.messages.deleteById({ message_id: fromAlice })).toMatchObject({ msg: "Invalid message(s)" });
  });

  it("answers 429 RATE_LIMIT_HIT with Retry-After, and refuses that user until it has passed", async () => {
    const botClient = await clientOf(bot);
    server.rateLimitNext(2, { retryAfterSeconds: 0.5, user: bot });
    const limited = await botClient.users.me.getProfile();
    expect(limited).toEqual({
      result: "error",
      msg: "API usage exceeded rate limit",
      code: "RATE_LIMIT_HIT",
      "retry-after": 0.5,
    });
    const refusedAt = server.requests.at(-1)?.at ?? 0;
    expect((await raw("/users/me", { user: alice })).status).toBe(200);
    // Too early: still refused, told the time left.
    const early = await raw("/users/me", { user: bot });
    expect(early.status).toBe(429);
    expect(Number(early.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(early.headers.get("retry-after"))).toBeLessThanOrEqual(0.5);
    expect(early.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(server.requests.at(-1)?.retryAfter).toBe(Number(early.headers.get("retry-after")));
    // The first call after the window (which began as the request was read, just after it came) opens the second.
    await sleep(refusedAt + 550 - Date.now());
    expect(await botClient.users.me.getProfile()).toMatchObject({ code: "RATE_LIMIT_HIT", "retry-after": 0.5 });
    await sleep(500);
    expect((await botClient.users.me.getProfile()).result).toBe("success");
  });

  it("answers 429 to everyone during a rate-limit window, retry-after counting down to its end", async () => {
    const aliceClient = await clientOf(alice);
    server.rateLimitFor(60_000);
    const limited = await aliceClient.users.me.getProfile();
    expect(limited).toMatchObject({ code: "RATE_LIMIT_HIT" });
    expect(limited["retry-after"]).toBeGreaterThan(0);
    expect(limited["retry-after"]).toBeLessThanOrEqual(60);
    expect((await raw("/users/me", { user: bot })).status).toBe(429);
    await server.close();
    await start();
    server.rateLimitFor(3000, { user: bob });
    expect((await raw("/users/me", { user: bob })).status).toBe(429);
    expect((await raw("/users/me", { user: alice })).status).toBe(200);
    await server.waitFor(async () => (await raw("/users/me", { user: bob })).status === 200, {
      what: "the window over",
    });
  });

  it("renders a spoiler's header but hides its body from what the user sees", async () => {
    const botClient = await clientOf(bot);
    const content = "Code for **github**:\n```spoiler Tap to reveal (28 s left)\n`492039`\n```\nStay safe.";
    await botClient.messages.send({ type: "direct", to: [alice.id], content });
    const [seen] = server.messagesSeenBy(alice, { with: bot });
    expect(seen?.visibleText).toBe("Code for github:\nTap to reveal (28 s left)\nStay safe.");
    expect(seen?.visibleText).not.toContain("492039");
    expect(seen?.fullText).toContain("492039");
    expect(seen?.spoilers).toEqual([{ header: "Tap to reveal (28 s left)", body: "`492039`" }]);
    expect(seen?.html).toContain(
      '<div class="spoiler-block"><div class="spoiler-header">\n<p>Tap to reveal (28 s left)</p>\n</div>' +
        '<div class="spoiler-content" aria-hidden="true">\n<p><code>492039</code></p>\n</div></div>',
    );
    expect(server.conversationsOf(alice)).toMatchObject([
      { type: "private", participantIds: [alice.id, bot.id].sort((a, b) => a - b), messages: [{ content }] },
    ]);
  });

  it("ends held polls on close()", async () => {
    const botClient = await clientOf(bot);
    const queue = await register(botClient);
    const held = botClient.events.retrieve({ queue_id: queue, last_event_id: -1 });
    await server.waitFor(() => server.queues(bot)[0]?.polling, { what: "the poll held" });
    await server.close();
    await expect(held).rejects.toThrow();
    await server.close();
  });
});

describe("outgoing webhooks", () => {
  let receiver: Server;
  let receiverUrl: string;
  let answer: (body: Record<string, unknown>) => { status: number; body: string };
  const received: Record<string, unknown>[] = [];
  const userAgents: string[] = [];

  beforeEach(async () => {
    await start();
    received.length = 0;
    answer = () => ({ status: 200, body: JSON.stringify({ content: "pong" }) });
    receiver = createServer(async (request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      received.push(body);
      userAgents.push(request.headers["user-agent"] ?? "");
      const { status, body: text } = answer(body);
      response.writeHead(status, { "content-type": "application/json" }).end(text);
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    server.setOutgoingWebhook(bot, { url: receiverUrl, token: "hook-token" });
  });
  afterEach(async () => {
    await server.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it("POSTs a DM to the bot with trigger direct_message and posts the answer to the sender", async () => {
    const id = server.sendDm(alice, bot, "ping");
    const delivery = await server.waitFor(() => server.webhookDeliveries.find((d) => d.messageId === id && d.done));
    expect(received).toEqual([
      {
        bot_email: bot.email,
        bot_full_name: "TOTP Bot",
        data: "ping",
        token: "hook-token",
        trigger: "direct_message",
        message: expect.objectContaining({ id, type: "private", sender_id: alice.id, content: "ping" }),
      },
    ]);
    expect(delivery).toMatchObject({ status: 200, trigger: "direct_message", replyMessageId: expect.any(Number) });
    expect(userAgents).toEqual([expect.stringMatching(/^ZulipOutgoingWebhook\//)]);
    expect(server.messagesSeenBy(alice, { with: bot }).map((m) => [m.senderId, m.content])).toEqual([
      [alice.id, "ping"],
      [bot.id, "pong"],
    ]);
  });

  it("POSTs a stream mention with trigger mention and replies in the same topic; plain messages trigger nothing", async () => {
    server.sendStream(bob, "general", "ops", "nobody called the bot");
    const id = server.sendStream(alice, "general", "ops", "ping", { mention: bot });
    await server.waitFor(() => server.webhookDeliveries.find((d) => d.messageId === id && d.done));
    expect(received.map((r) => [r.trigger, r.data])).toEqual([["mention", `@**TOTP Bot** ping`]]);
    expect(server.messagesSeenBy(bob, { stream: "general", topic: "ops" }).map((m) => [m.senderId, m.content])).toEqual(
      [
        [bob.id, "nobody called the bot"],
        [alice.id, "@**TOTP Bot** ping"],
        [bot.id, "pong"],
      ],
    );
  });

  it("posts nothing for response_not_required, and a failure notice when the bot errs", async () => {
    answer = () => ({ status: 200, body: JSON.stringify({ response_not_required: true }) });
    const quiet = server.sendDm(alice, bot, "thanks");
    await server.waitFor(() => server.webhookDeliveries.find((d) => d.messageId === quiet && d.done));
    expect(server.messagesSeenBy(alice, { with: bot }).map((m) => m.content)).toEqual(["thanks"]);
    answer = () => ({ status: 500, body: "{}" });
    const failing = server.sendDm(alice, bot, "code github");
    const delivery = await server.waitFor(() =>
      server.webhookDeliveries.find((d) => d.messageId === failing && d.done),
    );
    expect(delivery).toMatchObject({ status: 500, error: expect.stringContaining("500") });
    expect(server.messagesSeenBy(alice, { with: bot }).at(-1)).toMatchObject({
      senderId: bot.id,
      content: "Failure! Bot is unavailable",
    });
  });

  it("reads answers as Zulip does: response_string first, null as None; bots' messages trigger nothing", async () => {
    answer = () => ({ status: 200, body: JSON.stringify({ response_string: "legacy", content: "new" }) });
    const first = server.sendDm(alice, bot, "one");
    await server.waitFor(() => server.webhookDeliveries.find((d) => d.messageId === first && d.done));
    answer = () => ({ status: 200, body: JSON.stringify({ content: null }) });
    const second = server.sendDm(alice, bot, "two");
    await server.waitFor(() => server.webhookDeliveries.find((d) => d.messageId === second && d.done));
    expect(server.messagesSeenBy(alice, { with: bot }).map((m) => m.content)).toEqual(["one", "legacy", "two", "None"]);
    const otherBot = server.addBot({ fullName: "Other Bot" });
    server.sendDm(otherBot, bot, "bot to bot");
    server.sendStream(otherBot, "general", "ops", "hey", { mention: bot });
    const human = server.sendDm(bob, bot, "a human");
    await server.waitFor(() => server.webhookDeliveries.find((d) => d.messageId === human && d.done));
    expect(server.webhookDeliveries.map((d) => d.messageId)).toEqual([first, second, human]);
  });

  it("retries a webhook that cannot be reached three times, then posts the failure notice", async () => {
    await new Promise((resolve) => receiver.close(resolve));
    receiver = createServer();
    const id = server.sendStream(alice, "general", "ops", "anyone?", { mention: bot });
    const delivery = await server.waitFor(() => server.webhookDeliveries.find((d) => d.messageId === id && d.done));
    expect(delivery).toMatchObject({ attempts: 4, error: expect.stringContaining("connection error") });
    expect(server.messagesSeenBy(alice, { stream: "general", topic: "ops" }).at(-1)).toMatchObject({
      senderId: bot.id,
      content: "Failure! Bot is unavailable",
    });
  });
});
