import { setTimeout as sleep } from "node:timers/promises";
import { freePort, newSecret, periodEndOf, qrImage, type TgUpdate, type TgUser } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BotProcess,
  type BotWorld,
  botPolicy,
  botReplyAfter,
  expectNoSecretIn,
  isCodeOf,
  requestAbout,
  shownCode,
  startBotProcess,
  startWorld,
} from "./botHarness.js";
import { checkEveryCommand } from "./everyCommand.js";

const SECRET = "webhook_secret-0123456789";

describe("telegram-bot in webhook mode, with an allowlist and codes edited to 'expired'", () => {
  let world: BotWorld;
  let bot: BotProcess;
  let carol: TgUser;
  let mallory: TgUser;
  let hookUrl: string;
  const secrets = new Set<string>();

  beforeAll(async () => {
    let allowed: TgUser | undefined;
    world = await startWorld((tg) => {
      allowed = tg.createUser({ first_name: "Carol" });
      return botPolicy([allowed.id]);
    });
    carol = allowed as TgUser;
    mallory = world.tg.createUser({ first_name: "Mallory" });
    const port = await freePort();
    // Telegram takes https URLs only; the local server delivers to this one over plain http, as a TLS ingress would.
    hookUrl = `https://127.0.0.1:${port}/telegram/hook`;
    bot = await startBotProcess(world, {
      TELEGRAM_WEBHOOK_URL: hookUrl,
      TELEGRAM_WEBHOOK_LISTEN: `127.0.0.1:${port}`,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      TELEGRAM_ALLOWED_USERS: `${carol.id}`,
      TELEGRAM_EXPIRED_CODES: "edit",
    });
  });
  afterAll(async () => {
    await bot?.process.stop();
    await world?.close();
  });

  it("sets its webhook with the secret token and listens on TELEGRAM_WEBHOOK_LISTEN", () => {
    expect(world.tg.webhookInfo().url).toBe(hookUrl);
    expect(bot.webhookPort).toBe(Number(new URL(hookUrl).port));
    const set = world.tg.requests.find((r) => r.method === "setWebhook");
    expect(set?.params).toMatchObject({ url: hookUrl, secret_token: SECRET });
  });

  it("refuses an update without the secret header, or with a wrong one, and changes nothing", async () => {
    const audited = (await world.auditedPrincipals()).length;
    const sentBefore = world.tg.botMessages.length;
    const forged: TgUpdate = {
      update_id: 999_001,
      message: {
        message_id: 999_001,
        date: Math.floor(Date.now() / 1000),
        chat: { id: carol.id, type: "private", first_name: "Carol" },
        from: { id: carol.id, is_bot: false, first_name: "Carol" },
        text: "/list",
        entities: [{ type: "bot_command", offset: 0, length: 5 }],
      },
    };
    expect((await world.tg.postToWebhook(forged, { secret: null })).status).toBe(403);
    expect((await world.tg.postToWebhook(forged, { secret: "wrong_secret" })).status).toBe(403);
    expect((await world.tg.postToWebhook(forged, { secret: `${SECRET}x` })).status).toBe(403);
    // The right secret on the same update is answered: the refusals above were the header's.
    expect((await world.tg.postToWebhook(forged)).status).toBe(200);
    expect(world.tg.botMessages.length).toBe(sentBefore + 1);
    expect((await world.auditedPrincipals()).length).toBe(audited + 1);
  });

  it("answers every command and button", async () => {
    await checkEveryCommand(world, carol, secrets);
  });

  it("edits a code message to 'expired', with no code, when its 10 s period ends", async () => {
    const seed = newSecret();
    secrets.add(seed);
    const add = world.tg.sendText(carol, `/add short otpauth://totp/Short:c?secret=${seed}&period=10`);
    await botReplyAfter(world.tg, carol.id, add);
    const asked = Date.now();
    const sent = world.tg.sendText(carol, "/code short");
    const shown = await botReplyAfter(world.tg, carol.id, sent);
    const code = shownCode(shown);
    secrets.add(code);
    expect(isCodeOf(code, seed, asked, { period: 10 })).toBe(true);
    const periodEnd = periodEndOf(code, seed, asked, 10);
    const expired = await world.tg.waitFor(
      () => {
        const now = world.tg.message(carol.id, shown.messageId);
        return now?.text.includes("expired") ? now : undefined;
      },
      { timeoutMs: 30_000, what: "the code message edited to expired" },
    );
    expect(expired.text).toBe("The code for short has expired. Press Refresh for a new one.");
    expect(expired.text).not.toContain(code);
    expect(expired.entities.filter((e) => e.type === "spoiler")).toEqual([]);
    expect(expired.deleted).toBe(false);
    // Edited at the period's end, not before and not much after (1 s of slack for scheduling before, 3 s after).
    const editedAt = requestAbout(world, "editMessageText", carol.id, shown.messageId)?.at ?? Number.NaN;
    expect(editedAt).toBeGreaterThanOrEqual(periodEnd - 1000);
    expect(editedAt).toBeLessThanOrEqual(periodEnd + 3000);
    // Refresh on the expired message shows a new code in it.
    const before = world.tg.requests.length;
    world.tg.pressButton(carol, carol.id, shown.messageId, { text: "Refresh" });
    await world.tg.waitFor(() => world.tg.requests.slice(before).find((r) => r.method === "editMessageText"));
    const fresh = world.tg.message(carol.id, shown.messageId);
    if (!fresh) throw new Error("gone");
    secrets.add(shownCode(fresh));
  });

  it("refuses a user not in TELEGRAM_ALLOWED_USERS politely, without asking totp-core, and deletes a seed", async () => {
    const seed = newSecret();
    secrets.add(seed);
    const asked = world.tg.sendText(mallory, "/list");
    const refusal = await botReplyAfter(world.tg, mallory.id, asked);
    expect(refusal.text).toMatch(/^Sorry, this bot answers only the people its operator listed/);
    expect(refusal.text).toContain(`telegram:${mallory.id}`);
    const withSeed = world.tg.sendText(mallory, `/add mine ${seed}`);
    const refused = await botReplyAfter(world.tg, mallory.id, withSeed);
    expect(world.tg.message(mallory.id, withSeed)?.deleted).toBe(true);
    expect(refused.text).toMatch(/^Sorry, this bot answers only the people its operator listed/);
    expect(refused.text).toMatch(/\nI deleted your message: it carried a seed\.$/);
    // Not a valid seed, but what the user meant to register: deleted alike.
    const withPassword = world.tg.sendText(mallory, "/add mine hunter2");
    const refusedPassword = await botReplyAfter(world.tg, mallory.id, withPassword);
    expect(world.tg.message(mallory.id, withPassword)?.deleted).toBe(true);
    expect(refusedPassword.text).toMatch(/\nI deleted your message: it carried a seed\.$/);
    expect(await world.auditedPrincipals()).not.toContain(`telegram:${mallory.id}`);
    expect((await world.auditedPrincipals()).filter((p) => p === `telegram:${carol.id}`).length).toBeGreaterThan(5);
  });

  it("answers an update posted again (to another replica, say) without asking to delete a message already gone", async () => {
    const seed = newSecret();
    secrets.add(seed);
    const sent = world.tg.sendText(carol, `/add twice otpauth://totp/Twice:c?secret=${seed}`);
    const first = await botReplyAfter(world.tg, carol.id, sent);
    expect(first.text).toMatch(/^Stored twice/);
    expect(world.tg.message(carol.id, sent)?.deleted).toBe(true);
    // What Telegram does when it saw the first delivery fail: the same message, in an update of its own.
    const raw = world.tg.message(carol.id, sent)?.raw;
    const again = world.tg.botMessages.length;
    expect((await world.tg.postToWebhook({ update_id: 999_002, message: raw } as TgUpdate)).status).toBe(200);
    const second = await botReplyAfter(world.tg, carol.id, first.messageId);
    expect(world.tg.botMessages.length).toBe(again + 1);
    expect(second.text).toMatch(/already/i);
    expect(second.text).toMatch(/\nI deleted your message: it carried a seed\.$/);
    expect(second.text).not.toMatch(/delete it yourself/);
  });

  it("waits out a 429 and still delivers the reply", async () => {
    const before = world.tg.requests.length;
    world.tg.failNext(1, { method: "sendMessage", retryAfter: 1 });
    const sent = world.tg.sendText(carol, "/whoami");
    expect((await botReplyAfter(world.tg, carol.id, sent)).text).toContain(`telegram:${carol.id}`);
    const sends = world.tg.requests.slice(before).filter((r) => r.method === "sendMessage");
    expect(sends.map((r) => r.status)).toEqual([429, 200]);
  });

  it("loses no update over a totp-core restart: the webhook request is answered once the core is back", async () => {
    let sent = 0;
    await world.restartCore(async () => {
      sent = world.tg.sendText(carol, "/list");
      await sleep(2000);
      expect(world.tg.chat(carol.id).filter((m) => m.from === "bot" && m.messageId > sent)).toEqual([]);
    });
    const reply = await botReplyAfter(world.tg, carol.id, sent);
    expect(reply.text).toMatch(/^Your labels/);
    // Delivered once, answered once: Telegram saw no failed delivery to repeat.
    await world.tg.settled(60_000);
    expect(world.tg.chat(carol.id).filter((m) => m.from === "bot" && m.messageId > sent)).toHaveLength(1);
  });

  it("deletes a QR photo at once while totp-core is down, and stores its seed once the core is back", async () => {
    const seed = newSecret();
    secrets.add(seed);
    const jpeg = qrImage(`otpauth://totp/Down:c?secret=${seed}`, { format: "jpeg", size: 800, quality: 80 });
    let sent = 0;
    await world.restartCore(async () => {
      sent = world.tg.sendPhoto(carol, jpeg, { caption: "down" });
      await world.tg.waitFor(() => world.tg.message(carol.id, sent)?.deleted, {
        timeoutMs: 10_000,
        what: "the photo deleted while totp-core is down",
      });
      expect(world.tg.chat(carol.id).filter((m) => m.from === "bot" && m.messageId > sent)).toEqual([]);
    });
    const reply = await botReplyAfter(world.tg, carol.id, sent);
    expect(reply.text).toMatch(/^Stored down \(Down, c\), 6 digits every 30 s\./);
    expect(reply.text).toMatch(/\nI deleted your message: it carried a seed\.$/);
    const asked = Date.now();
    const check = world.tg.sendText(carol, "/code down");
    const code = shownCode(await botReplyAfter(world.tg, carol.id, check));
    secrets.add(code);
    expect(isCodeOf(code, seed, asked)).toBe(true);
  });

  it("stops on SIGTERM: closes the listener and exits 0", async () => {
    const status = await bot.process.stop(20_000);
    expect(status).toEqual({ code: 0, signal: null });
    await expect(fetch(hookUrl.replace("https:", "http:"), { method: "POST", body: "{}" })).rejects.toThrow();
  });

  it("sent nothing the Bot API spec refuses, and wrote no seed or code in its output", () => {
    expect(world.tg.specViolations).toEqual([]);
    expectNoSecretIn(bot.process.stdout + bot.process.stderr, secrets);
  });
});
