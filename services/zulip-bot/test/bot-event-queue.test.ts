import { migrationUri, newSecret, type ProcessHandle, periodEndOf } from "@totp-custody/testkit";
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

describe("the Zulip bot in event-queue mode: real zulip-js, the local Zulip server, totp-core on OpenBao", () => {
  let fx: BotFixture;
  let bot: ProcessHandle;
  /** Every seed and code the tests saw, to check the bot's output for them at the end. */
  const secrets: string[] = [];

  beforeAll(async () => {
    fx = await startBotFixture();
    bot = await fx.startBot();
  });
  afterAll(async () => {
    if (bot) expectCleanOutput(bot, secrets);
    await fx?.close();
  });

  it("registers a queue without narrow for messages only", () => {
    const [queue] = fx.zulip.queues(fx.bot);
    expect(queue).toMatchObject({ eventTypes: ["message"], narrow: [], applyMarkdown: false });
  });

  it("answers help and whoami with the commands and the principal zulip:<id>", async () => {
    const help = await ask(fx, fx.alice, "help");
    for (const command of ["list", "code <label>", "add <label>", "import <otpauth-migration URI>", "remove <label>"]) {
      expect(help.content).toContain(`\`${command}`);
    }
    const whoami = await ask(fx, fx.alice, "whoami");
    expect(whoami.visibleText).toContain(`zulip:${fx.alice.id}`);
  });

  it("adds a seed, deletes the message that carried it, and shows codes from it only in a spoiler", async () => {
    const seed = newSecret();
    secrets.push(seed);
    const added = await ask(fx, fx.alice, `add github otpauth://totp/GitHub:alice?secret=${seed}&issuer=GitHub`);
    expect(added.visibleText).toMatch(/^Stored github \(GitHub, alice\), 6 digits every 30 s/);
    expect(added.visibleText).toContain("I deleted your message");
    const userMessages = fx.zulip.messagesSeenBy(fx.alice, { with: fx.bot }).filter((m) => m.senderId === fx.alice.id);
    expect(userMessages.at(-1)).toMatchObject({ deleted: true, deletedBy: fx.bot.id });

    const askedAt = Date.now();
    const reply = await ask(fx, fx.alice, "code github");
    secrets.push(expectCodeReply(reply, seed, askedAt));
    expect(reply.visibleText).toContain("Refresh: send code github");
  });

  it("lists the labels with the command for each code, then removes one only after the confirm", async () => {
    const list = await ask(fx, fx.alice, "list");
    expect(list.visibleText).toContain("Your labels");
    expect(list.content).toContain("send `code github`");
    const question = await ask(fx, fx.alice, "remove github");
    expect(question.content).toContain("`remove github confirm`");
    expect((await ask(fx, fx.alice, "code github")).asSent.spoilers).toHaveLength(1);
    const removed = await ask(fx, fx.alice, "remove github confirm");
    expect(removed.visibleText).toBe("Removed github.");
    expect((await ask(fx, fx.alice, "code github")).visibleText).toMatch(/^There is no label github you can read/);
  });

  it("imports a Google Authenticator export and deletes it", async () => {
    const first = newSecret();
    const second = newSecret();
    secrets.push(first, second);
    const uri = migrationUri([
      { secret: first, name: "alice@shop", issuer: "Shop" },
      { secret: second, name: "alice@mail", issuer: "Mail" },
    ]);
    const imported = await ask(fx, fx.alice, `import ${uri}`);
    expect(imported.visibleText).toMatch(/^Imported 2 of 2 entries/);
    expect(imported.visibleText).toContain("I deleted your message");
    const list = await ask(fx, fx.alice, "list");
    expect(list.visibleText.match(/send code/g)).toHaveLength(2);
    // Each label serves the codes of its own entry's seed, computed here by another TOTP implementation.
    const labels = importedLabels(imported);
    expect([...labels.keys()].sort()).toEqual(["Mail", "Shop"]);
    for (const [issuer, seed] of [
      ["Shop", first],
      ["Mail", second],
    ] as const) {
      const label = labels.get(issuer) as string;
      expect(list.content).toContain(`send \`code ${label}\``);
      const askedAt = Date.now();
      secrets.push(expectCodeReply(await ask(fx, fx.alice, `code ${label}`), seed, askedAt));
    }
  });

  it("edits a code message to expired when its period ends", async () => {
    const seed = newSecret();
    secrets.push(seed);
    await ask(fx, fx.alice, `add quick otpauth://totp/quick?secret=${seed}&period=3`);
    const askedAt = Date.now();
    const reply = await ask(fx, fx.alice, "code quick");
    const code = expectCodeReply(reply, seed, askedAt, { period: 3 });
    secrets.push(code);
    const expired = await fx.zulip.waitFor(
      () => botDms(fx, fx.alice).find((m) => m.id === reply.id && m.content.includes("expired")),
      { what: "the code message edited to expired" },
    );
    expect(expired.content).toBe("The code for **quick** has expired. Send `code quick` for a new one.");
    expect(expired.spoilers).toHaveLength(0);
    // Edited when the shown code's period ends: not before (1 s of slack for scheduling), at most 3 s after.
    const periodEnd = periodEndOf(code, seed, askedAt, 3);
    const editedAt = expired.edits[0]?.at ?? Number.NaN;
    expect(editedAt).toBeGreaterThanOrEqual(periodEnd - 1000);
    expect(editedAt).toBeLessThanOrEqual(periodEnd + 3000);
  });

  it("asks the user to delete a seed message where the realm does not let the bot delete it", async () => {
    fx.zulip.setMessageDeletion("own");
    try {
      const seed = newSecret();
      secrets.push(seed);
      const added = await ask(fx, fx.alice, `add kept ${seed}`);
      expect(added.visibleText).toContain("I could not delete your message: delete it yourself now");
      const userMessages = fx.zulip
        .messagesSeenBy(fx.alice, { with: fx.bot })
        .filter((m) => m.senderId === fx.alice.id);
      expect(userMessages.at(-1)?.deleted).toBe(false);
    } finally {
      fx.zulip.setMessageDeletion("any");
    }
  });

  it("answers a stream mention by direct message, the code included, and never posts in the stream", async () => {
    const seed = newSecret();
    secrets.push(seed);
    await ask(fx, fx.alice, `add mine ${seed}`);
    const before = botDms(fx, fx.alice).length;
    fx.zulip.sendStream(fx.alice, "general", "ops", "code mine");
    const askedAt = Date.now();
    fx.zulip.sendStream(fx.alice, "general", "ops", "code mine", { mention: fx.bot });
    const reply = await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], { what: "the DM answering the mention" });
    secrets.push(expectCodeReply(reply, seed, askedAt));
    // The message without a mention got nothing.
    await expectNoMoreReplies(fx, fx.alice, before + 1);
    expect(fx.zulip.messages.filter((m) => m.type === "stream" && m.senderId === fx.bot.id)).toEqual([]);
  });

  it("answers a group direct message to the sender alone", async () => {
    const before = botDms(fx, fx.alice).length;
    fx.zulip.sendDm(fx.alice, [fx.bot, fx.bob], "code mine");
    const reply = await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], { what: "the one-to-one answer" });
    expect(reply.recipientIds.sort()).toEqual([fx.alice.id, fx.bot.id].sort());
    expect(reply.asSent.spoilers).toHaveLength(1);
    secrets.push(reply.asSent.spoilers[0]?.body.replace(/`/g, "").trim() ?? "");
    const group = fx.zulip.messagesSeenBy(fx.bob, { with: [fx.alice, fx.bot] });
    expect(group.filter((m) => m.senderId === fx.bot.id)).toEqual([]);
  });

  it("never registers a seed posted in a stream, deletes it, and tells the sender by direct message", async () => {
    const seed = newSecret();
    secrets.push(seed);
    const before = botDms(fx, fx.alice).length;
    const posted = fx.zulip.sendStream(fx.alice, "general", "ops", `add leaked ${seed}`, { mention: fx.bot });
    const reply = await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], { what: "the warning by DM" });
    expect(reply.visibleText).toMatch(/^That message carries a seed, and everyone here can read it/);
    expect(fx.zulip.messages.find((m) => m.id === posted)?.deleted).toBe(true);
    // It says what happened, and asks nothing of the sender about a message that is gone.
    expect(reply.visibleText).toContain("I deleted your message: it carried a seed.");
    expect(reply.visibleText).not.toMatch(/delete (it|your message) (yourself )?now/);
    expect((await ask(fx, fx.alice, "code leaked")).visibleText).toMatch(/^There is no label leaked you can read/);
    expect(fx.zulip.messages.filter((m) => m.type === "stream" && m.senderId === fx.bot.id)).toEqual([]);
  });

  it("asks the sender to delete a seed posted in a stream where the realm does not let the bot delete it", async () => {
    fx.zulip.setMessageDeletion("own");
    try {
      const seed = newSecret();
      secrets.push(seed);
      const before = botDms(fx, fx.alice).length;
      const posted = fx.zulip.sendStream(fx.alice, "general", "ops", seed, { mention: fx.bot });
      const reply = await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], { what: "the warning by DM" });
      expect(reply.visibleText).toMatch(/^That message carries a seed, and everyone here can read it/);
      expect(fx.zulip.messages.find((m) => m.id === posted)?.deleted).toBe(false);
      expect(reply.visibleText).toContain("I could not delete your message: delete it yourself now");
      expect(reply.visibleText).not.toContain("I deleted");
    } finally {
      fx.zulip.setMessageDeletion("any");
    }
  });

  it("registers a new queue when Zulip drops the idle one, answering what came in between once", async () => {
    const [old] = fx.zulip.queues(fx.bot);
    fx.zulip.expireQueues(fx.bot);
    const before = botDms(fx, fx.alice).length;
    // Sent before the bot had its new queue: it is in no queue, so only reading back finds it.
    fx.zulip.sendDm(fx.alice, fx.bot, "whoami");
    await fx.zulip.waitFor(() => fx.zulip.queues(fx.bot).some((q) => q.queueId !== old?.queueId), {
      what: "a new queue",
    });
    await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], { what: "the reply to the message in the gap" });
    const after = await ask(fx, fx.alice, "whoami");
    expect(after.visibleText).toContain(`zulip:${fx.alice.id}`);
    await expectNoMoreReplies(fx, fx.alice, before + 2);
  });

  it("waits out a 429 with the retry-after Zulip gives, and answers once", async () => {
    const from = fx.zulip.requests.length;
    fx.zulip.rateLimitNext(2, { retryAfterSeconds: 1, user: fx.bot });
    const before = botDms(fx, fx.alice).length;
    const reply = await ask(fx, fx.alice, "whoami");
    expect(reply.visibleText).toContain(`zulip:${fx.alice.id}`);
    await expectNoMoreReplies(fx, fx.alice, before + 1);
    const mine = fx.zulip.requests.slice(from).filter((r) => r.userId === fx.bot.id);
    const refused = mine.filter((r) => r.status === 429);
    // The reply itself was refused, not only the poll that runs beside it.
    expect(refused.some((r) => r.method === "POST" && r.path === "/api/v1/messages")).toBe(true);
    // The server refuses every call until the retry-after has passed: each refused call was made again no sooner.
    const same = (a: (typeof mine)[number], b: (typeof mine)[number]) =>
      a.method === b.method && a.path === b.path && JSON.stringify(a.params) === JSON.stringify(b.params);
    for (const r of refused) {
      const again = mine.slice(mine.indexOf(r) + 1).find((next) => same(next, r));
      expect(again, `${r.method} ${r.path} made again`).toBeDefined();
      expect(again?.at).toBeGreaterThanOrEqual(r.at + (r.retryAfter ?? Number.POSITIVE_INFINITY) * 1000);
    }
  });

  it("answers across a totp-core restart, once per message", async () => {
    const seed = newSecret();
    secrets.push(seed);
    await ask(fx, fx.alice, `add steady ${seed}`);
    const before = botDms(fx, fx.alice).length;
    const restarting = fx.restartCore();
    const askedAt = Date.now();
    fx.zulip.sendDm(fx.alice, fx.bot, "code steady");
    await restarting;
    // The bot's core wait lasts up to 60 s; under load a restart can take a good part of it.
    const reply = await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], {
      what: "the code after the restart",
      timeoutMs: 90_000,
    });
    // The bot holds the message until totp-core answers again: the code, not "unavailable".
    secrets.push(expectCodeReply(reply, seed, askedAt));
    const again = await ask(fx, fx.alice, "code steady");
    secrets.push(expectCodeReply(again, seed, Date.now() - 5000));
    await expectNoMoreReplies(fx, fx.alice, before + 2);
  });

  it("on SIGTERM answers the message in hand, marks pending codes expired, deletes its queue and exits 0", async () => {
    const seed = newSecret();
    secrets.push(seed);
    await ask(fx, fx.alice, `add late ${seed}`);
    const askedAt = Date.now();
    const reply = await ask(fx, fx.alice, "code late");
    secrets.push(expectCodeReply(reply, seed, askedAt));
    const before = botDms(fx, fx.alice).length;
    // In hand when the signal comes: answered before the bot exits.
    fx.zulip.sendDm(fx.alice, fx.bot, "whoami");
    const status = await bot.stop(30_000);
    expect(status).toEqual({ code: 0, signal: null });
    expect(
      botDms(fx, fx.alice)
        .slice(before)
        .map((m) => m.visibleText),
    ).toEqual([expect.stringContaining(`zulip:${fx.alice.id}`)]);
    expect(fx.zulip.queues(fx.bot)).toEqual([]);
    const last = botDms(fx, fx.alice).find((m) => m.id === reply.id);
    expect(last?.content).toContain("has expired");
  });
});
