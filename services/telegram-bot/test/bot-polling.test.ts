import { setTimeout as sleep } from "node:timers/promises";
import { migrationUri, newSecret, periodEndOf, qrImage, type TgUser } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../src/server.js";
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

describe("telegram-bot in long polling: the real bot process, telegraf, totp-core and OpenBao", () => {
  let world: BotWorld;
  let bot: BotProcess;
  let alice: TgUser;
  const secrets = new Set<string>();

  beforeAll(async () => {
    let ops: TgUser | undefined;
    world = await startWorld((tg) => {
      ops = tg.createUser({ first_name: "Alice" });
      return botPolicy([ops.id]);
    });
    alice = ops as TgUser;
    bot = await startBotProcess(world);
  });
  afterAll(async () => {
    await bot?.process.stop();
    await world?.close();
  });

  it("registers its command menu and polls", async () => {
    await world.tg.waitFor(() => world.tg.commands.length > 0, { what: "setMyCommands" });
    expect(world.tg.commands.map((c) => c.command)).toEqual(COMMANDS.map((c) => c.command));
    expect(world.tg.webhookInfo().url).toBe("");
  });

  it("answers every command and button", async () => {
    await checkEveryCommand(world, alice, secrets);
    // Every button press was answered, so no client kept spinning.
    const presses = world.tg.requests.filter((r) => r.method === "answerCallbackQuery" && r.status === 200);
    expect(presses.length).toBeGreaterThanOrEqual(4);
  });

  it("deletes a code message when its code expires (a 10 s period)", async () => {
    const seed = newSecret();
    secrets.add(seed);
    const add = world.tg.sendText(alice, `/add short otpauth://totp/Short:a?secret=${seed}&period=10`);
    expect((await botReplyAfter(world.tg, alice.id, add)).text).toMatch(
      /^Stored short \(Short, a\), 6 digits every 10 s/,
    );
    const asked = Date.now();
    const sent = world.tg.sendText(alice, "/code short");
    const shown = await botReplyAfter(world.tg, alice.id, sent);
    const code = shownCode(shown);
    secrets.add(code);
    expect(isCodeOf(code, seed, asked, { period: 10 })).toBe(true);
    const periodEnd = periodEndOf(code, seed, asked, 10);
    await world.tg.waitFor(() => world.tg.message(alice.id, shown.messageId)?.deleted, {
      timeoutMs: 30_000,
      what: "the expired code message deleted",
    });
    // Deleted at the period's end, not before and not much after (the clocks are the same machine's; 1 s of slack
    // for scheduling before, 3 s after).
    const deletedAt = requestAbout(world, "deleteMessage", alice.id, shown.messageId)?.at ?? Number.NaN;
    expect(deletedAt).toBeGreaterThanOrEqual(periodEnd - 1000);
    expect(deletedAt).toBeLessThanOrEqual(periodEnd + 3000);
  });

  it("shows no code and takes no seed in a group", async () => {
    const group = world.tg.createChat({ type: "group", title: "Ops", members: [alice] });
    const asked = world.tg.sendText(alice, "/code shop", { chat: group });
    const refusal = await botReplyAfter(world.tg, group.id, asked);
    expect(refusal.text).toBe("Ask me in a private chat: I never show codes or labels where others can read them.");
    expect(refusal.entities.filter((e) => e.type === "spoiler")).toEqual([]);
    const listed = world.tg.sendText(alice, "/list", { chat: group });
    expect((await botReplyAfter(world.tg, group.id, listed)).text).toMatch(/^Ask me in a private chat/);

    const seed = newSecret();
    secrets.add(seed);
    const leaked = world.tg.sendText(alice, `/add grouped ${seed}`, { chat: group });
    const warned = await botReplyAfter(world.tg, group.id, leaked);
    expect(warned.text).toMatch(/^That message carries a seed, and everyone here can read it/);
    // A bot that is no group admin cannot delete others' messages there: the reply says so and what to do.
    expect(world.tg.message(group.id, leaked)?.deleted).toBe(false);
    expect(warned.text).toMatch(/I could not delete your message, and it carries a seed: delete it yourself now/);
    const check = world.tg.sendText(alice, "/code grouped");
    expect((await botReplyAfter(world.tg, alice.id, check)).text).toMatch(/^There is no label grouped/);
  });

  it("serves a press of a button it did not write (forged or stale) with a hint, acting on nothing", async () => {
    const sent = world.tg.sendText(alice, "/whoami");
    const target = await botReplyAfter(world.tg, alice.id, sent);
    const audited = (await world.auditedPrincipals()).length;
    world.tg.injectUpdate({
      callback_query: { id: "forged-1", from: alice, message: target.raw, chat_instance: "x", data: "d:../../admin" },
    });
    const reply = await botReplyAfter(world.tg, alice.id, target.messageId);
    expect(reply.text).toBe("That button no longer works: send /list for fresh ones.");
    // The local server knows no query "forged-1" and refuses its answer, as Telegram refuses a stale one.
    expect(world.tg.requests.filter((r) => r.method === "answerCallbackQuery").at(-1)?.status).toBe(400);
    expect((await world.auditedPrincipals()).length).toBe(audited);
  });

  it("waits out a 429 from Telegram and still delivers the reply", async () => {
    const before = world.tg.requests.length;
    world.tg.failNext(1, { method: "sendMessage", retryAfter: 1 });
    const sent = world.tg.sendText(alice, "/whoami");
    expect((await botReplyAfter(world.tg, alice.id, sent)).text).toContain(`telegram:${alice.id}`);
    const sends = world.tg.requests.slice(before).filter((r) => r.method === "sendMessage");
    expect(sends.map((r) => r.status)).toEqual([429, 200]);
    // The wait is Telegram's retry_after, read from the answer (a bound from below; the upper one is the harness's).
    const [refused, accepted] = sends;
    expect((accepted?.at ?? 0) - (refused?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it("delivers a reply that finds the Bot API refusing connections, once it takes them again", async () => {
    // The polls that can hand the update out: the one held now, and those made later.
    const before = world.tg.requests.length;
    const polls = () =>
      world.tg.requests.filter((r, i) => r.method === "getUpdates" && (i >= before || r.status === 0));
    const held = new Set(polls());
    let sent = 0;
    let apiDown: Promise<void> = Promise.resolve();
    try {
      // totp-core held while the bot takes the update, so that its reply goes out while the Bot API is down.
      world.core.process.kill("SIGSTOP");
      sent = world.tg.sendText(alice, "/code shop");
      await world.tg.waitFor(() => [...held, ...polls()].some((r) => r.status === 200), {
        what: "the update handed to the bot",
      });
      // Time for the answer to cross the socket before the server cuts it.
      await sleep(300);
      apiDown = world.tg.refuseConnectionsFor(2000);
    } finally {
      world.core.process.kill("SIGCONT");
    }
    await apiDown;
    secrets.add(shownCode(await botReplyAfter(world.tg, alice.id, sent)));
    expect(world.tg.chat(alice.id).filter((m) => m.from === "bot" && m.messageId > sent)).toHaveLength(1);
    expect(bot.process.stdout).toMatch(/"code":"ECONNREFUSED".*trying again/);
  });

  it("still deletes a photo it could not download, and asks for it again", async () => {
    const seed = newSecret();
    secrets.add(seed);
    // More failures than the bot's 5xx retries: the download never succeeds.
    world.tg.failNext(5, { method: "getFile", status: 502 });
    const photo = world.tg.sendPhoto(alice, qrImage(`otpauth://totp/X:y?secret=${seed}`, { format: "jpeg" }), {
      caption: "lost",
    });
    const reply = await botReplyAfter(world.tg, alice.id, photo);
    expect(reply.text).toBe(
      "I could not fetch that image from Telegram. Please send it again.\nI deleted your message: it carried a seed.",
    );
    expect(world.tg.message(alice.id, photo)?.deleted).toBe(true);
  });

  it("apologises when its reply cannot be sent, and says the seed message is gone", async () => {
    const seed = newSecret();
    secrets.add(seed);
    // As many failures as the bot's attempts at one sendMessage: the reply is lost, the apology goes out.
    world.tg.failNext(5, { method: "sendMessage", status: 502 });
    const sent = world.tg.sendText(alice, `/add unsent ${seed}`);
    const apology = await botReplyAfter(world.tg, alice.id, sent);
    expect(apology.text).toBe(
      "Something went wrong on my side. Please try again later.\nI deleted your message: it carried a seed.",
    );
    expect(world.tg.message(alice.id, sent)?.deleted).toBe(true);
  });

  it("reads a seed in a file's caption as text: stored, and the message deleted", async () => {
    const seed = newSecret();
    secrets.add(seed);
    const sent = world.tg.sendDocument(alice, Buffer.from("%PDF-1.4\n"), {
      caption: `/add filed ${seed}`,
      fileName: "notes.pdf",
      mimeType: "application/pdf",
    });
    const reply = await botReplyAfter(world.tg, alice.id, sent);
    expect(reply.text).toBe(
      "Stored filed, 6 digits every 30 s. Get its code with /code filed.\nI deleted your message: it carried a seed.",
    );
    expect(world.tg.message(alice.id, sent)?.deleted).toBe(true);
  });

  it("deletes a message edited to carry a seed, and asks for it in a new message", async () => {
    const seed = newSecret();
    secrets.add(seed);
    const sent = world.tg.sendText(alice, "/whoami");
    const first = await botReplyAfter(world.tg, alice.id, sent);
    world.tg.editText(alice, alice.id, sent, `/add edited ${seed}`);
    const reply = await botReplyAfter(world.tg, alice.id, first.messageId);
    expect(reply.text).toBe(
      "I read seeds only in new messages, not in edits: send it again as a new message.\n" +
        "I deleted your message: it carried a seed.",
    );
    expect(world.tg.message(alice.id, sent)?.deleted).toBe(true);
    const check = world.tg.sendText(alice, "/code edited");
    expect((await botReplyAfter(world.tg, alice.id, check)).text).toMatch(/^There is no label edited/);
  });

  it("keeps a long /list within Telegram's 4096 characters, every label still a button", async () => {
    // Two exports of nine accounts with long names, each export a message of the size a user can send.
    for (const batch of ["p", "q"]) {
      const entries = Array.from({ length: 9 }, (_, i) => {
        const secret = newSecret();
        secrets.add(secret);
        return { secret, issuer: `${batch}${i}-${"Issuer".repeat(20)}`, name: `account-${i}-${"x".repeat(58)}` };
      });
      const uri = migrationUri(entries);
      expect(uri.length + "/import ".length).toBeLessThanOrEqual(4096);
      const sent = world.tg.sendText(alice, `/import ${uri}`);
      expect((await botReplyAfter(world.tg, alice.id, sent)).text).toMatch(/^Imported 9 of 9 entries/);
    }
    const sent = world.tg.sendText(alice, "/list");
    const listed = await botReplyAfter(world.tg, alice.id, sent);
    expect(listed.text.length).toBeLessThanOrEqual(4096);
    expect(listed.text).toMatch(/^Your labels\n/);
    expect(listed.text).toMatch(/\n…and \d+ more lines, too many for one Telegram message\.$/);
    const labels = listed.buttons.flat().map((b) => b.text);
    expect(labels.filter((text) => /^[pq]\d-issuer/.test(text))).toHaveLength(18);
  });

  it("is ready when the Bot API and totp-core answer, and says which is not", async () => {
    const ready = await fetch(`http://127.0.0.1:${bot.healthPort}/readyz`);
    expect(ready.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${bot.healthPort}/healthz`)).status).toBe(200);
  });

  it("loses no update over a totp-core restart", async () => {
    let sent = 0;
    await world.restartCore(async () => {
      expect((await fetch(`http://127.0.0.1:${bot.healthPort}/readyz`)).status).toBe(503);
      sent = world.tg.sendText(alice, "/code shop");
      // Long enough for the bot to have found the core down and be holding the update.
      await sleep(2000);
      expect(world.tg.chat(alice.id).filter((m) => m.from === "bot" && m.messageId > sent)).toEqual([]);
    });
    const reply = await botReplyAfter(world.tg, alice.id, sent);
    secrets.add(shownCode(reply));
    expect(world.tg.chat(alice.id).some((m) => m.text.includes("unavailable"))).toBe(false);
  });

  it("deletes a seed message at once while totp-core is down, and stores the seed once it is back", async () => {
    const seed = newSecret();
    secrets.add(seed);
    let sent = 0;
    await world.restartCore(async () => {
      sent = world.tg.sendText(alice, `/add outage ${seed}`);
      await world.tg.waitFor(() => world.tg.message(alice.id, sent)?.deleted, {
        timeoutMs: 10_000,
        what: "the seed message deleted while totp-core is down",
      });
      expect(world.tg.chat(alice.id).filter((m) => m.from === "bot" && m.messageId > sent)).toEqual([]);
    });
    const reply = await botReplyAfter(world.tg, alice.id, sent);
    expect(reply.text).toBe(
      "Stored outage, 6 digits every 30 s. Get its code with /code outage.\nI deleted your message: it carried a seed.",
    );
    const asked = Date.now();
    const check = world.tg.sendText(alice, "/code outage");
    const code = shownCode(await botReplyAfter(world.tg, alice.id, check));
    secrets.add(code);
    expect(isCodeOf(code, seed, asked)).toBe(true);
  });

  it("stops on SIGTERM: finishes, expires the codes still shown, exits 0", async () => {
    const sent = world.tg.sendText(alice, "/code shop");
    const shown = await botReplyAfter(world.tg, alice.id, sent);
    secrets.add(shownCode(shown));
    const status = await bot.process.stop(20_000);
    expect(status).toEqual({ code: 0, signal: null });
    expect(world.tg.message(alice.id, shown.messageId)?.deleted).toBe(true);
    // Its last poll confirmed the offset, so no update was left unconfirmed.
    await world.tg.settled(5000);
  });

  it("sent nothing the Bot API spec refuses, and wrote no seed or code in its output", () => {
    expect(world.tg.specViolations).toEqual([]);
    expect(secrets.size).toBeGreaterThan(8);
    expectNoSecretIn(bot.process.stdout + bot.process.stderr, secrets);
  });
});
