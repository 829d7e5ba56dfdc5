import { Markup, Telegraf, TelegramError } from "telegraf";
import { afterEach, describe, expect, it } from "vitest";
import {
  eventually,
  freePort,
  qrImage,
  startTelegramServer,
  type TelegramServer,
  type TelegramServerOptions,
  validateBotApiObject,
} from "../src/index.js";

// Generous: these bounds only stop a hang on a machine that other test runs keep busy.
const WAIT_MS = 30_000;

const bots: Telegraf[] = [];
const servers: TelegramServer[] = [];

afterEach(async () => {
  for (const bot of bots.splice(0)) {
    try {
      bot.stop();
    } catch {
      // a bot whose polling already ended (a 409, or stopped by the test) is not running any more
    }
  }
  for (const server of servers.splice(0)) await server.close();
});

async function server(options?: TelegramServerOptions): Promise<TelegramServer> {
  const started = await startTelegramServer(options);
  servers.push(started);
  return started;
}

function telegraf(tg: TelegramServer): Telegraf {
  const bot = new Telegraf(tg.token, { telegram: { apiRoot: tg.apiRoot } });
  bots.push(bot);
  return bot;
}

const pollsSoFar = (tg: TelegramServer) => tg.requests.filter((request) => request.method === "getUpdates").length;

/**
 * Launches polling and resolves once a new getUpdates arrived; `stopped` is launch's own promise, which settles
 * only when polling ends (telegraf#1749), hence wrapped in an object.
 */
async function launchPolling(tg: TelegramServer, bot: Telegraf): Promise<{ stopped: Promise<void> }> {
  const before = pollsSoFar(tg);
  const stopped = bot.launch(() => {});
  stopped.catch(() => {});
  await eventually(() => pollsSoFar(tg) > before, { what: "the bot's first getUpdates", timeoutMs: WAIT_MS });
  return { stopped };
}

const botReply = (tg: TelegramServer, chatId: number, index = 0) =>
  tg.waitFor(() => tg.chat(chatId).filter((message) => message.from === "bot")[index], {
    what: `bot message ${index} in chat ${chatId}`,
    timeoutMs: WAIT_MS,
  });

async function rawCall(tg: TelegramServer, method: string, body?: unknown) {
  const response = await fetch(`${tg.apiRoot}bot${tg.token}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("startTelegramServer with the real telegraf, long polling", () => {
  it("runs telegraf's launch and stop sequence, delivers a command and shows the reply as the user sees it", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    bot.command("hello", (ctx) => ctx.reply(`hi ${ctx.from.first_name}`, { protect_content: true }));
    const { stopped } = await launchPolling(tg, bot);
    const alice = tg.createUser({ first_name: "Alice" });
    const sent = tg.sendText(alice, "/hello");
    const reply = await botReply(tg, alice.id);
    expect(reply).toMatchObject({ text: "hi Alice", protectContent: true, deleted: false, edits: 0 });
    expect(tg.chat(alice.id)[0]).toMatchObject({ messageId: sent, from: "user", text: "/hello" });
    await tg.waitFor(() => pollsSoFar(tg) === 2 && tg.requests.at(-1)?.status === 0, {
      what: "the next held poll",
      timeoutMs: WAIT_MS,
    });
    bot.stop();
    await stopped;
    const calls = tg.requests.map((request) => request.method);
    expect(calls.slice(0, 3)).toEqual(["getMe", "deleteWebhook", "getUpdates"]);
    expect(tg.requests[2]?.params).toEqual({ timeout: 50, offset: 0, allowed_updates: [] });
    // stop aborts the held poll, then confirms the offset with limit 1 and no timeout: answered at once.
    const [aborted, confirm] = tg.requests.filter((request) => request.method === "getUpdates").slice(-2);
    // 499 once the server saw the socket close; 409 when the confirming poll came first and ended it, as
    // Telegram would (telegraf no longer listens on that socket either way).
    expect([499, 409]).toContain(aborted?.status);
    expect(confirm).toMatchObject({ method: "getUpdates", status: 200 });
    expect(confirm?.params).toEqual({ offset: (aborted?.params.offset as number) ?? -1, limit: 1 });
    await tg.settled(WAIT_MS);
    expect(tg.webhookInfo().pending_update_count).toBe(0);
    expect(tg.specViolations).toEqual([]);
  });

  it("answers 409 to the poll a second poller replaces, and serves the second bot", async () => {
    const tg = await server();
    const first = telegraf(tg);
    first.on("message", (ctx) => ctx.reply("first"));
    const { stopped: firstStopped } = await launchPolling(tg, first);
    const second = telegraf(tg);
    second.on("message", (ctx) => ctx.reply("second"));
    await launchPolling(tg, second);
    const failure = await firstStopped.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TelegramError);
    expect((failure as TelegramError).code).toBe(409);
    expect((failure as TelegramError).description).toMatch(/^Conflict: terminated by other getUpdates request/);
    const bob = tg.createUser();
    tg.sendText(bob, "anyone?");
    expect((await botReply(tg, bob.id)).text).toBe("second");
    expect(tg.specViolations).toEqual([]);
  });

  it("waits out a 429 on getUpdates for retry_after seconds, then delivers", async () => {
    const tg = await server();
    tg.failNext(1, { method: "getUpdates", retryAfter: 1 });
    const bot = telegraf(tg);
    bot.on("message", (ctx) => ctx.reply("got it"));
    bot.launch(() => {}).catch(() => {});
    const carol = tg.createUser();
    tg.sendText(carol, "hello");
    expect((await botReply(tg, carol.id)).text).toBe("got it");
    const polls = tg.requests.filter((request) => request.method === "getUpdates");
    expect(polls[0]).toMatchObject({ status: 429, description: "Too Many Requests: retry after 1" });
    expect(polls[1]?.status).toBe(200);
    // telegraf slept retry_after before asking again (a lower bound: a slow machine only makes the gap longer).
    expect((polls[1]?.at ?? 0) - (polls[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it("delivers callback queries from pressed buttons and records the answers", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    bot.command("menu", (ctx) =>
      ctx.reply(
        "pick",
        Markup.inlineKeyboard([Markup.button.callback("One", "pick:1"), Markup.button.callback("Two", "pick:2")]),
      ),
    );
    bot.action(/^pick:(\d)$/, async (ctx) => {
      await ctx.answerCbQuery(`you chose ${ctx.match[1]}`);
      await ctx.editMessageText(`chosen ${ctx.match[1]}`);
    });
    await launchPolling(tg, bot);
    const dave = tg.createUser();
    tg.sendText(dave, "/menu");
    const menu = await botReply(tg, dave.id);
    expect(menu.buttons).toEqual([
      [
        { text: "One", callback_data: "pick:1" },
        { text: "Two", callback_data: "pick:2" },
      ],
    ]);
    const queryId = tg.pressButton(dave, dave.id, menu.messageId, { text: "Two" });
    await tg.waitFor(() => tg.message(dave.id, menu.messageId)?.edits === 1, { what: "the edit", timeoutMs: WAIT_MS });
    expect(tg.callbackAnswers).toEqual([{ callback_query_id: queryId, text: "you chose 2" }]);
    // editMessageText without reply_markup removes the keyboard, as Telegram does.
    expect(tg.message(dave.id, menu.messageId)).toMatchObject({ text: "chosen 2", buttons: [] });
    expect(() => tg.pressButton(dave, dave.id, menu.messageId, { data: "pick:1" })).toThrow(/no callback button/);
    // `hide: false`, which Markup.button.callback adds, is not reported.
    expect(tg.specViolations).toEqual([]);
  });

  it("hands the largest PhotoSize's bytes to a bot that downloads an injected photo through getFile", async () => {
    const tg = await server();
    const jpeg = qrImage("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", { format: "jpeg", size: 800 });
    const bot = telegraf(tg);
    const downloaded: Buffer[] = [];
    bot.on("photo", async (ctx) => {
      const largest = ctx.message.photo.at(-1);
      if (largest === undefined) return;
      const file = await ctx.telegram.getFile(largest.file_id);
      expect(file.file_path?.startsWith("/")).toBe(false);
      const link = await ctx.telegram.getFileLink(largest.file_id);
      downloaded.push(Buffer.from(await (await fetch(link)).arrayBuffer()));
      await ctx.reply(`caption was ${ctx.message.caption}`);
    });
    await launchPolling(tg, bot);
    const erin = tg.createUser();
    tg.sendPhoto(erin, jpeg, { caption: "work" });
    expect((await botReply(tg, erin.id)).text).toBe("caption was work");
    expect(downloaded).toHaveLength(1);
    expect(downloaded[0]?.equals(jpeg)).toBe(true);
    const photo = tg.chat(erin.id)[0]?.photo ?? [];
    expect(photo.map((size) => Math.max(size.width, size.height))).toEqual([90, 320, 800]);
    // The smaller sizes are other bytes: a bot that took one of them would not see the QR code.
    const smallest = (await rawCall(tg, "getFile", { file_id: photo[0]?.file_id })).body.result as {
      file_path: string;
    };
    const small = await fetch(`${tg.apiRoot}file/bot${tg.token}/${smallest.file_path}`);
    expect(Buffer.from(await small.arrayBuffer()).equals(jpeg)).toBe(false);
    expect(tg.specViolations).toEqual([]);
  });
});

describe("startTelegramServer's address", () => {
  it("listens where listenAddress says and names that address in apiRoot", async () => {
    // Another loopback address stands for a cluster's bridge gateway: reachable there, and only there.
    const tg = await server({ listenAddress: "127.0.0.2" });
    expect(tg.apiRoot).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/$/);
    expect(await telegraf(tg).telegram.getMe()).toMatchObject({ id: tg.bot.id });
    const elsewhere = tg.apiRoot.replace("127.0.0.2", "127.0.0.1");
    await expect(fetch(`${elsewhere}bot${tg.token}/getMe`)).rejects.toThrow();
  });
});

describe("startTelegramServer with the real telegraf, methods", () => {
  it("takes telegraf's chunked multipart sendPhoto and serves the uploaded bytes back", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    const frank = tg.createUser();
    const jpeg = qrImage("uploaded", { format: "jpeg", scale: 4 });
    const sent = await bot.telegram.sendPhoto(
      frank.id,
      { source: jpeg, filename: "qr.jpg" },
      {
        caption: "<b>scan</b> me",
        parse_mode: "HTML",
        protect_content: true,
      },
    );
    expect(sent.photo.at(-1)?.width).toBeGreaterThan(0);
    const seen = tg.message(frank.id, sent.message_id);
    expect(seen).toMatchObject({
      text: "scan me",
      protectContent: true,
      entities: [{ type: "bold", offset: 0, length: 4 }],
    });
    const link = await bot.telegram.getFileLink(sent.photo.at(-1)?.file_id ?? "");
    expect(Buffer.from(await (await fetch(link)).arrayBuffer()).equals(jpeg)).toBe(true);
    const upload = tg.requests.find((request) => request.method === "sendPhoto");
    expect(upload?.params.photo).toEqual({ filename: "qr.jpg", size: jpeg.length });
    expect(tg.specViolations).toEqual([]);
  });

  it("renders MarkdownV2 and HTML as Telegram does, refuses unescaped reserved characters, masks spoilers", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    const grace = tg.createUser();
    const refused = await bot.telegram
      .sendMessage(grace.id, "Code: 123.456", { parse_mode: "MarkdownV2" })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TelegramError);
    expect((refused as TelegramError).code).toBe(400);
    expect((refused as TelegramError).description).toBe(
      "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
    );
    expect(tg.specViolations).toHaveLength(1);
    tg.specViolations.length = 0;
    const code = await bot.telegram.sendMessage(grace.id, "*Code* for `a_b`: ||123456||, 29 s left\\.", {
      parse_mode: "MarkdownV2",
    });
    expect(tg.message(grace.id, code.message_id)).toMatchObject({
      text: "Code for a_b: 123456, 29 s left.",
      visibleText: "Code for a_b: ░░░, 29 s left.",
      entities: [
        { type: "bold", offset: 0, length: 4 },
        { type: "code", offset: 9, length: 3 },
        { type: "spoiler", offset: 14, length: 6 },
      ],
    });
    const html = await bot.telegram.sendMessage(grace.id, "<i>label &lt;x&gt;</i> <tg-spoiler>654321</tg-spoiler>", {
      parse_mode: "HTML",
    });
    expect(tg.message(grace.id, html.message_id)?.visibleText).toBe("label <x> ░░░");
    expect(tg.specViolations).toEqual([]);
  });

  it("flags a spoiler over code, refuses text over 4096 characters and entities outside the text", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    const heidi = tg.createUser();
    await bot.telegram.sendMessage(heidi.id, "123456", {
      entities: [
        { type: "spoiler", offset: 0, length: 6 },
        { type: "code", offset: 0, length: 6 },
      ],
    });
    expect(tg.specViolations).toEqual([
      expect.objectContaining({
        method: "sendMessage",
        kind: "semantic",
        problem: expect.stringMatching(/spoiler .* overlaps code/),
      }),
    ]);
    tg.specViolations.length = 0;
    await expect(bot.telegram.sendMessage(heidi.id, "x".repeat(4097))).rejects.toMatchObject({
      description: "Bad Request: message is too long",
    });
    await expect(bot.telegram.sendMessage(heidi.id, "x".repeat(4096))).resolves.toMatchObject({
      text: "x".repeat(4096),
    });
    await expect(
      bot.telegram.sendMessage(heidi.id, "short", { entities: [{ type: "bold", offset: 3, length: 5 }] }),
    ).rejects.toMatchObject({ code: 400 });
    expect(tg.specViolations.map((violation) => violation.kind)).toEqual(["semantic", "semantic"]);
  });

  it("refuses callback_data over 64 bytes with BUTTON_DATA_INVALID", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    const ivan = tg.createUser();
    const keyboard = (data: string) => Markup.inlineKeyboard([Markup.button.callback("go", data)]);
    await expect(bot.telegram.sendMessage(ivan.id, "ok", keyboard("a".repeat(64)))).resolves.toBeDefined();
    // 33 two-byte characters: 66 bytes, though only 33 characters.
    const refused = await bot.telegram
      .sendMessage(ivan.id, "no", keyboard("é".repeat(33)))
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 400, description: "Bad Request: BUTTON_DATA_INVALID" });
    expect(tg.chat(ivan.id).map((message) => message.text)).toEqual(["ok"]);
    expect(tg.specViolations).toEqual([
      expect.objectContaining({ method: "sendMessage", problem: "Bad Request: BUTTON_DATA_INVALID" }),
    ]);
  });

  it("answers editMessageText with the same content as 'message is not modified'", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    const judy = tg.createUser();
    const keyboard = Markup.inlineKeyboard([Markup.button.callback("Refresh", "r")]);
    const sent = await bot.telegram.sendMessage(judy.id, "code 1", keyboard);
    const same = await bot.telegram
      .editMessageText(judy.id, sent.message_id, undefined, "code 1", keyboard)
      .catch((error: unknown) => error);
    expect(same).toMatchObject({
      code: 400,
      description: expect.stringMatching(/^Bad Request: message is not modified: /),
    });
    await bot.telegram.editMessageText(judy.id, sent.message_id, undefined, "expired");
    expect(tg.message(judy.id, sent.message_id)).toMatchObject({ text: "expired", edits: 1, buttons: [] });
    // The first version stays readable as sent, its button too.
    expect(tg.messageAsSent(judy.id, sent.message_id)).toMatchObject({
      text: "code 1",
      edits: 0,
      buttons: [[{ text: "Refresh", callback_data: "r" }]],
    });
    await expect(bot.telegram.editMessageText(judy.id, 999, undefined, "x")).rejects.toMatchObject({
      description: "Bad Request: message to edit not found",
    });
    expect(tg.specViolations).toEqual([]);
  });

  it("deletes the bot's messages and the user's in a private chat, and says when there is nothing to delete", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    const kim = tg.createUser();
    const own = await bot.telegram.sendMessage(kim.id, "bye");
    await expect(bot.telegram.deleteMessage(kim.id, own.message_id)).resolves.toBe(true);
    await expect(bot.telegram.deleteMessage(kim.id, own.message_id)).rejects.toMatchObject({
      code: 400,
      description: "Bad Request: message to delete not found",
    });
    const incoming = tg.sendText(kim, "JBSWY3DPEHPK3PXP");
    await expect(bot.telegram.deleteMessage(kim.id, incoming)).resolves.toBe(true);
    expect(tg.chat(kim.id).map((message) => message.deleted)).toEqual([true, true]);
    // A reply to the deleted message is refused unless the bot allows sending without it, as Telegram does.
    await expect(
      bot.telegram.sendMessage(kim.id, "Seed saved", { reply_parameters: { message_id: incoming } }),
    ).rejects.toMatchObject({ description: "Bad Request: message to be replied not found" });
    const saved = await bot.telegram.sendMessage(kim.id, "Seed saved", {
      reply_parameters: { message_id: incoming, allow_sending_without_reply: true },
    });
    expect(tg.message(kim.id, saved.message_id)?.replyTo).toBeUndefined();
    const kept = tg.sendText(kim, "hello");
    const answer = await bot.telegram.sendMessage(kim.id, "hi", { reply_parameters: { message_id: kept } });
    expect(tg.message(kim.id, answer.message_id)?.replyTo).toBe(kept);
    const group = tg.createChat({ type: "supergroup", members: [kim] });
    const inGroup = tg.sendText(kim, "hello all", { chat: group });
    await expect(bot.telegram.deleteMessage(group.id, inGroup)).rejects.toMatchObject({
      description: "Bad Request: message can't be deleted",
    });
    expect(tg.specViolations).toEqual([]);
  });

  it("records a request that misses a required field as a spec violation and refuses it as Telegram does", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    const leo = tg.createUser();
    const refused = await bot.telegram
      .callApi("sendMessage", { chat_id: leo.id } as never)
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 400, description: "Bad Request: message text is empty" });
    expect(tg.specViolations).toEqual([
      { method: "sendMessage", field: "text", problem: "required", kind: "missing_field" },
    ]);
    expect(tg.chat(leo.id)).toEqual([]);
  });

  it("validates setMyCommands and answerCallbackQuery", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    await bot.telegram.setMyCommands([
      { command: "code", description: "Show a code" },
      { command: "list", description: "Your labels" },
    ]);
    expect(tg.commands).toEqual([
      { command: "code", description: "Show a code" },
      { command: "list", description: "Your labels" },
    ]);
    await expect(bot.telegram.setMyCommands([{ command: "Code", description: "x" }])).rejects.toMatchObject({
      description: "Bad Request: BOT_COMMAND_INVALID",
    });
    await expect(bot.telegram.answerCbQuery("nope")).rejects.toMatchObject({
      description: "Bad Request: query is too old and response timeout expired or query ID is invalid",
    });
  });
});

describe("startTelegramServer with the real telegraf, webhook mode", () => {
  async function launchWebhook(bot: Telegraf, secretToken: string) {
    const port = await freePort();
    await bot.launch({
      webhook: { domain: `127.0.0.1:${port}`, host: "127.0.0.1", port, path: "/tg-hook", secretToken },
    });
    return port;
  }

  it("posts updates with the secret header; a wrong or missing secret is refused, retried and applies nothing", async () => {
    const tg = await server({ webhookRetryDelayMs: 50 });
    const bot = telegraf(tg);
    const handled: string[] = [];
    bot.on("message", async (ctx) => {
      handled.push(ctx.text ?? "");
      await ctx.telegram.sendMessage(ctx.chat.id, `echo ${ctx.text}`);
    });
    const port = await launchWebhook(bot, "right-secret_1");
    expect(tg.webhookInfo()).toMatchObject({ url: `https://127.0.0.1:${port}/tg-hook`, pending_update_count: 0 });
    const mia = tg.createUser();
    tg.sendText(mia, "first");
    expect((await botReply(tg, mia.id)).text).toBe("echo first");
    // polling is refused while a webhook is set
    expect((await rawCall(tg, "getUpdates")).body).toMatchObject({ ok: false, error_code: 409 });

    const update = {
      update_id: 1,
      message: { message_id: 50, date: 0, chat: { id: mia.id, type: "private" as const }, from: mia, text: "forged" },
    };
    expect((await tg.postToWebhook(update, { secret: null })).status).toBe(403);
    expect((await tg.postToWebhook(update, { secret: "wrong" })).status).toBe(403);

    // Telegram sending a secret the bot does not know: the update stays pending and is retried.
    await rawCall(tg, "setWebhook", { url: `https://127.0.0.1:${port}/tg-hook`, secret_token: "other" });
    tg.sendText(mia, "second");
    await tg.waitFor(() => tg.webhookInfo().last_error_message === "Wrong response from the webhook: 403 Forbidden", {
      what: "a refused delivery",
      timeoutMs: WAIT_MS,
    });
    const attempts = tg.webhookInfo();
    expect(attempts.pending_update_count).toBe(1);
    expect(handled).toEqual(["first"]);
    await rawCall(tg, "setWebhook", { url: `https://127.0.0.1:${port}/tg-hook`, secret_token: "right-secret_1" });
    expect((await botReply(tg, mia.id, 1)).text).toBe("echo second");
    expect(handled).toEqual(["first", "second"]);
    await tg.settled(WAIT_MS);
    expect(tg.specViolations).toEqual([]);
  });

  it("runs the method telegraf returns in its webhook answer (webhookReply)", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    bot.command("menu", (ctx) =>
      ctx.telegram.sendMessage(ctx.chat.id, "menu", Markup.inlineKeyboard([Markup.button.callback("Delete", "del")])),
    );
    bot.action("del", async (ctx) => {
      await ctx.answerCbQuery("deleted");
    });
    await launchWebhook(bot, "s3cret");
    const nick = tg.createUser();
    tg.sendText(nick, "/menu");
    const menu = await botReply(tg, nick.id);
    const queryId = tg.pressButton(nick, nick.id, menu.messageId, { data: "del" });
    await tg.waitFor(() => tg.callbackAnswers.length > 0, { what: "the callback answer", timeoutMs: WAIT_MS });
    expect(tg.callbackAnswers).toEqual([{ callback_query_id: queryId, text: "deleted" }]);
    expect(tg.requests.find((request) => request.method === "answerCallbackQuery")).toMatchObject({
      via: "webhook",
      status: 200,
    });
    expect(tg.specViolations).toEqual([]);
  });
});

describe("startTelegramServer over plain HTTP", () => {
  it("answers 401 for another token and 404 for an unknown method, matches method names in any case", async () => {
    const tg = await server();
    const wrongToken = await fetch(`${tg.apiRoot}bot1:nope/getMe`, { method: "POST" });
    expect(wrongToken.status).toBe(401);
    expect(await wrongToken.json()).toEqual({ ok: false, error_code: 401, description: "Unauthorized" });
    expect(await rawCall(tg, "getMee")).toEqual({
      status: 404,
      body: { ok: false, error_code: 404, description: "Not Found" },
    });
    const me = await fetch(`${tg.apiRoot}bot${tg.token}/GETME`);
    expect(await me.json()).toMatchObject({
      ok: true,
      result: { id: tg.bot.id, is_bot: true, can_join_groups: true, can_read_all_group_messages: false },
    });
  });

  it("reads GET query strings and urlencoded bodies, typed from the spec", async () => {
    const tg = await server();
    const olga = tg.createUser();
    const viaQuery = await fetch(
      `${tg.apiRoot}bot${tg.token}/sendMessage?chat_id=${olga.id}&text=from+query&protect_content=true`,
    );
    expect(await viaQuery.json()).toMatchObject({
      ok: true,
      result: { text: "from query", has_protected_content: true },
    });
    const viaForm = await fetch(`${tg.apiRoot}bot${tg.token}/sendMessage`, {
      method: "POST",
      body: new URLSearchParams({
        chat_id: String(olga.id),
        text: "from form",
        reply_markup: JSON.stringify({ inline_keyboard: [[{ text: "A", callback_data: "a" }]] }),
      }),
    });
    expect(await viaForm.json()).toMatchObject({
      ok: true,
      result: { text: "from form", reply_markup: { inline_keyboard: [[{ text: "A", callback_data: "a" }]] } },
    });
    expect(tg.specViolations).toEqual([]);
  });

  it("confirms updates by offset, takes a negative offset from the end, keeps allowed_updates between calls", async () => {
    const tg = await server();
    const pat = tg.createUser();
    for (const text of ["one", "two", "three"]) tg.sendText(pat, text);
    const first = (await rawCall(tg, "getUpdates", { limit: 2 })).body.result as {
      update_id: number;
      message: { text: string };
    }[];
    expect(first.map((update) => update.message.text)).toEqual(["one", "two"]);
    const again = (await rawCall(tg, "getUpdates", { offset: first[1]?.update_id })).body.result as {
      message: { text: string };
    }[];
    expect(again.map((update) => update.message.text)).toEqual(["two", "three"]);
    const last = (await rawCall(tg, "getUpdates", { offset: -1 })).body.result as { message: { text: string } }[];
    expect(last.map((update) => update.message.text)).toEqual(["three"]);
    expect(tg.webhookInfo().pending_update_count).toBe(1);
    await rawCall(tg, "getUpdates", { offset: 0, allowed_updates: ["callback_query"] });
    tg.sendText(pat, "ignored");
    expect((await rawCall(tg, "getUpdates", {})).body.result).toEqual([]);
    // setWebhook without allowed_updates keeps the setting too
    await rawCall(tg, "setWebhook", { url: "https://127.0.0.1:9/hook" });
    expect(tg.webhookInfo().allowed_updates).toEqual(["callback_query"]);
  });

  it("holds a poll until an update arrives and ends held polls on close", async () => {
    const tg = await startTelegramServer();
    const held = rawCall(tg, "getUpdates", { timeout: 30 });
    await eventually(() => tg.requests.some((request) => request.method === "getUpdates"), {
      what: "the held poll",
      timeoutMs: WAIT_MS,
    });
    const quinn = tg.createUser();
    tg.sendText(quinn, "wake up");
    const woken = (await held).body.result as { update_id: number }[];
    expect(woken).toHaveLength(1);
    const offset = (woken[0]?.update_id ?? 0) + 1;
    const second = rawCall(tg, "getUpdates", { timeout: 30, offset });
    await eventually(() => tg.requests.filter((request) => request.method === "getUpdates").length === 2, {
      what: "the second poll",
      timeoutMs: WAIT_MS,
    });
    const third = rawCall(tg, "getUpdates", { timeout: 30, offset });
    expect((await second).body).toMatchObject({ ok: false, error_code: 409 });
    await tg.close();
    expect((await third).body).toMatchObject({ ok: true });
  });

  it("injects 5xx and 429 faults for the next calls of a method or of any", async () => {
    const tg = await server();
    tg.failNext(2, { status: 502 });
    expect((await rawCall(tg, "getMe")).status).toBe(502);
    expect((await rawCall(tg, "getWebhookInfo")).status).toBe(502);
    expect((await rawCall(tg, "getMe")).status).toBe(200);
    tg.failNext(1, { method: "sendMessage", retryAfter: 7 });
    expect((await rawCall(tg, "getMe")).status).toBe(200);
    expect((await rawCall(tg, "sendMessage", { chat_id: 1, text: "x" })).body).toEqual({
      ok: false,
      error_code: 429,
      description: "Too Many Requests: retry after 7",
      parameters: { retry_after: 7 },
    });
  });

  it("records unknown fields without refusing them, refuses a wrong type and a bad secret_token", async () => {
    const tg = await server();
    const rita = tg.createUser();
    expect((await rawCall(tg, "sendMessage", { chat_id: rita.id, text: "hi", colour: "red" })).status).toBe(200);
    expect(tg.specViolations).toEqual([
      { method: "sendMessage", field: "colour", problem: "unknown field", kind: "unknown_field" },
    ]);
    const wrongType = await rawCall(tg, "sendMessage", { chat_id: rita.id, text: "hi", protect_content: "maybe" });
    expect(wrongType).toMatchObject({ status: 400, body: { ok: false, error_code: 400 } });
    expect(String(wrongType.body.description)).toMatch(/^Bad Request: .*protect_content/);
    const badSecret = await rawCall(tg, "setWebhook", {
      url: "https://example.invalid/hook",
      secret_token: "no spaces",
    });
    expect(badSecret.status).toBe(400);
    expect(tg.webhookInfo().url).toBe("");
  });
});

describe("startTelegramServer emits what Telegram emits", () => {
  it("sends updates and results that match the spec's object types", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    const sam = tg.createUser({ first_name: "Sam", username: "sam_t", language_code: "en" });
    const group = tg.createChat({ type: "group", members: [sam] });
    const menu = await bot.telegram.sendMessage(sam.id, "*menu*", {
      parse_mode: "MarkdownV2",
      protect_content: true,
      ...Markup.inlineKeyboard([Markup.button.callback("Go", "go")]),
    });
    const replyTo = tg.sendText(sam, "/code work");
    tg.sendText(sam, "a reply", { replyTo });
    tg.sendPhoto(sam, qrImage("x", { format: "jpeg", scale: 2 }), { caption: "/add work" });
    tg.sendText(sam, "/list", { chat: group });
    tg.pressButton(sam, sam.id, menu.message_id, { data: "go" });
    const updates = (await rawCall(tg, "getUpdates")).body.result as unknown[];
    expect(updates).toHaveLength(5);
    const results: [string, unknown][] = [
      ...updates.map((update): [string, unknown] => ["Update", update]),
      ["Message", menu],
      ["User", await bot.telegram.getMe()],
      ["WebhookInfo", await bot.telegram.getWebhookInfo()],
      ["ChatFullInfo", await bot.telegram.getChat(group.id)],
      ["File", await bot.telegram.getFile(tg.chat(sam.id)[3]?.photo?.[0]?.file_id ?? "")],
    ];
    for (const [type, value] of results) expect(validateBotApiObject(type, value), type).toEqual([]);
  });

  it("shows the bot only commands, mentions and replies in a group while privacy mode is on", async () => {
    const tg = await server();
    const tess = tg.createUser();
    const group = tg.createChat({ type: "supergroup", title: "Team", members: [tess] });
    tg.sendText(tess, "chatter", { chat: group });
    tg.sendText(tess, "/code work", { chat: group });
    tg.sendText(tess, `hey @${tg.bot.username}`, { chat: group });
    const updates = (await rawCall(tg, "getUpdates")).body.result as {
      message: { text: string; chat: { type: string } };
    }[];
    expect(updates.map((update) => update.message.text)).toEqual(["/code work", `hey @${tg.bot.username}`]);
    expect(updates[0]?.message.chat.type).toBe("supergroup");
    expect(tg.chat(group.id).map((message) => message.text)).toEqual([
      "chatter",
      "/code work",
      `hey @${tg.bot.username}`,
    ]);
  });
});
