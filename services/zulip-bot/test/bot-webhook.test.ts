import { freePort, migrationUri, newSecret, type ProcessHandle, periodEndOf } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ask,
  type BotFixture,
  botDms,
  expectCleanOutput,
  expectCodeReply,
  expectNoMoreReplies,
  importedLabels,
  startBotFixture,
} from "./botFixture.js";

const TOKEN = "outgoing-webhook-token-of-the-test";

describe("the Zulip bot in outgoing-webhook mode, with an allowlist and served streams", () => {
  let fx: BotFixture;
  let bot: ProcessHandle;
  let url: string;
  const secrets: string[] = [TOKEN];

  beforeAll(async () => {
    fx = await startBotFixture();
    const port = await freePort();
    url = `http://127.0.0.1:${port}/zulip`;
    bot = await fx.startBot({
      ZULIP_WEBHOOK_LISTEN: `127.0.0.1:${port}`,
      ZULIP_WEBHOOK_TOKEN: TOKEN,
      ZULIP_ALLOWED_SENDERS: `${fx.alice.email.toUpperCase()}, 999`,
      ZULIP_STREAMS: "ops",
    });
    fx.zulip.setOutgoingWebhook(fx.bot, { url, token: TOKEN });
  });
  afterAll(async () => {
    if (bot) expectCleanOutput(bot, secrets);
    await fx?.close();
  });

  /** The audit lines totp-core wrote for `principal` (its audit log goes to its stdout here). */
  const coreCallsOf = (principal: string) =>
    fx.core.process.stdout
      .split("\n")
      .filter((line) => line.includes('"principal"'))
      .filter((line) => JSON.parse(line).principal === principal);

  it("keeps no event queue, answers the webhook at once and help through the API", async () => {
    const reply = await ask(fx, fx.alice, "help");
    expect(reply.content).toContain("`code <label>`");
    const delivery = fx.zulip.webhookDeliveries.find(
      (d) => (d.payload.message as { content?: string }).content === "help",
    );
    expect(delivery).toMatchObject({
      trigger: "direct_message",
      status: 200,
      attempts: 1,
      response: { response_not_required: true },
    });
    expect(delivery?.replyMessageId).toBeUndefined();
    expect(fx.zulip.queues(fx.bot)).toEqual([]);
  });

  it("runs every command: add deletes the seed message, code comes by the API in a spoiler and expires", async () => {
    const seed = newSecret();
    secrets.push(seed);
    const added = await ask(fx, fx.alice, `add shop otpauth://totp/Shop:alice?secret=${seed}&period=3`);
    expect(added.visibleText).toMatch(/^Stored shop \(Shop, alice\), 6 digits every 3 s/);
    expect(added.visibleText).toContain("I deleted your message");

    const askedAt = Date.now();
    const reply = await ask(fx, fx.alice, "code shop");
    const code = expectCodeReply(reply, seed, askedAt, { period: 3 });
    secrets.push(code);
    // Sent through the API (its id is needed to expire it), so the webhook answered "nothing to post".
    const delivery = await fx.zulip.waitFor(
      () =>
        fx.zulip.webhookDeliveries.find(
          (d) => d.done && (d.payload.message as { content?: string }).content === "code shop",
        ),
      { what: "the webhook delivery of the code request" },
    );
    expect(delivery).toMatchObject({ status: 200, response: { response_not_required: true } });
    expect(delivery?.replyMessageId).toBeUndefined();
    const expired = await fx.zulip.waitFor(
      () => botDms(fx, fx.alice).find((m) => m.id === reply.id && m.content.includes("expired")),
      { what: "the code message edited to expired" },
    );
    // Edited when the shown code's period ends: not before (1 s of slack for scheduling), at most 3 s after.
    const periodEnd = periodEndOf(code, seed, askedAt, 3);
    expect(expired.edits[0]?.at).toBeGreaterThanOrEqual(periodEnd - 1000);
    expect(expired.edits[0]?.at).toBeLessThanOrEqual(periodEnd + 3000);

    const other = newSecret();
    secrets.push(other);
    const imported = await ask(fx, fx.alice, `import ${migrationUri([{ secret: other, name: "me", issuer: "Mail" }])}`);
    expect(imported.visibleText).toMatch(/^Imported 1 of 1 entries/);
    const importedLabel = importedLabels(imported).get("Mail") as string;
    const importedAt = Date.now();
    secrets.push(expectCodeReply(await ask(fx, fx.alice, `code ${importedLabel}`), other, importedAt));
    const list = await ask(fx, fx.alice, "list");
    expect(list.content).toContain("send `code shop`");
    expect((await ask(fx, fx.alice, "whoami")).visibleText).toContain(`zulip:${fx.alice.id}`);
    expect((await ask(fx, fx.alice, "remove shop")).content).toContain("`remove shop confirm`");
    expect((await ask(fx, fx.alice, "remove shop confirm")).visibleText).toBe("Removed shop.");
  });

  it("refuses a sender the allowlist does not name, without calling totp-core", async () => {
    const reply = await ask(fx, fx.bob, "list");
    expect(reply.visibleText).toContain(`your principal is zulip:${fx.bob.id}`);
    expect(coreCallsOf(`zulip:${fx.bob.id}`)).toEqual([]);
    expect(coreCallsOf(`zulip:${fx.alice.id}`).length).toBeGreaterThan(0);
  });

  it("deletes the seed a refused sender sent, or asks them to, and still never calls totp-core for them", async () => {
    const seed = newSecret();
    secrets.push(seed);
    const lastOfBob = () =>
      fx.zulip
        .messagesSeenBy(fx.bob, { with: fx.bot })
        .filter((m) => m.senderId === fx.bob.id)
        .at(-1);
    const added = await ask(fx, fx.bob, `add mine otpauth://totp/Shop:bob?secret=${seed}&issuer=Shop`);
    expect(added.visibleText).toContain(`your principal is zulip:${fx.bob.id}`);
    expect(added.visibleText).toContain("I deleted your message: it carried a seed.");
    expect(lastOfBob()).toMatchObject({ deleted: true, deletedBy: fx.bot.id });
    // Not a valid seed, but what the user meant to register: deleted alike.
    const password = await ask(fx, fx.bob, "add mine hunter2");
    expect(password.visibleText).toContain("I deleted your message: it carried a seed.");
    expect(lastOfBob()).toMatchObject({ deleted: true, deletedBy: fx.bot.id });

    fx.zulip.setMessageDeletion("own");
    try {
      const pasted = await ask(fx, fx.bob, seed);
      expect(pasted.visibleText).toContain(`your principal is zulip:${fx.bob.id}`);
      expect(pasted.visibleText).toContain("I could not delete your message: delete it yourself now");
      expect(lastOfBob()?.deleted).toBe(false);
    } finally {
      fx.zulip.setMessageDeletion("any");
    }
    expect(coreCallsOf(`zulip:${fx.bob.id}`)).toEqual([]);
  });

  it("answers a mention in a served stream by direct message, and one elsewhere not at all", async () => {
    const before = botDms(fx, fx.alice).length;
    fx.zulip.sendStream(fx.alice, "elsewhere", "t", "whoami", { mention: fx.bot });
    fx.zulip.sendStream(fx.alice, "ops", "t", "whoami", { mention: fx.bot });
    const reply = await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], { what: "the DM answering in ops" });
    expect(reply.visibleText).toContain(`zulip:${fx.alice.id}`);
    // Each webhook POST is its own request: the one from "elsewhere" is known to be answered once Zulip has its reply.
    const mentions = await fx.zulip.waitFor(() => {
      const done = fx.zulip.webhookDeliveries.filter((d) => d.trigger === "mention" && d.done);
      return done.length === 2 ? done : undefined;
    });
    expect(mentions.map((d) => [d.status, d.response])).toEqual([
      [200, { response_not_required: true }],
      [200, { response_not_required: true }],
    ]);
    await expectNoMoreReplies(fx, fx.alice, before + 1);
    expect(fx.zulip.messages.filter((m) => m.type === "stream" && m.senderId === fx.bot.id)).toEqual([]);
  });

  it("deletes a seed posted with a mention even in a stream it does not serve, registers nothing, and says so by DM", async () => {
    const seed = newSecret();
    secrets.push(seed);
    const before = botDms(fx, fx.alice).length;
    const posted = fx.zulip.sendStream(fx.alice, "elsewhere", "t", `add leaked ${seed}`, { mention: fx.bot });
    const reply = await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], { what: "the warning by DM" });
    expect(reply.visibleText).toMatch(/^That message carries a seed/);
    expect(reply.visibleText).toContain("I deleted your message");
    expect(fx.zulip.messages.find((m) => m.id === posted)?.deleted).toBe(true);
    expect(coreCallsOf(`zulip:${fx.alice.id}`).filter((line) => line.includes("leaked"))).toEqual([]);
  });

  it("refuses a payload with a wrong token, and answers nothing for it", async () => {
    const forged = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "wrong", trigger: "direct_message", message: { id: 1 } }),
    });
    expect(forged.status).toBe(403);

    fx.zulip.setOutgoingWebhook(fx.bot, { url, token: "not-the-token" });
    const before = botDms(fx, fx.alice).length;
    try {
      const sent = fx.zulip.sendDm(fx.alice, fx.bot, "whoami");
      const delivery = await fx.zulip.waitFor(
        () => fx.zulip.webhookDeliveries.find((d) => d.messageId === sent && d.done),
        { what: "the delivery with the wrong token" },
      );
      expect(delivery.status).toBe(403);
      // Zulip posts its own failure notice; the bot posts nothing.
      await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], { what: "Zulip's failure notice" });
      expect(botDms(fx, fx.alice).at(-1)?.content).toBe("Failure! Bot is unavailable");
    } finally {
      fx.zulip.setOutgoingWebhook(fx.bot, { url, token: TOKEN });
    }
    await expectNoMoreReplies(fx, fx.alice, before + 1);
  });
});
