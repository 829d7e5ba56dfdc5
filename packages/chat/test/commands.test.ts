import { createTotpClient } from "@totp-custody/client";
import { expectedCode, freePort, migrationUri, newSecret, qrImage } from "@totp-custody/testkit";
import jpeg from "jpeg-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChatContext,
  type ChatDeps,
  type ChatReply,
  decodeAction,
  encodeAction,
  handleAction,
  handleImage,
  handleMessage,
} from "../src/index.js";
import {
  type ChatFixture,
  expectNoSecret,
  plainText,
  startChatFixture,
  telegramDm,
  telegramGroup,
} from "./chatFixture.js";

/** Small enough that a test reaches it with a few calls; other tests ask a label for at most this many codes. */
const CODES_PER_LABEL = 3;

describe("the chat commands against a real totp-core over mTLS", () => {
  let fx: ChatFixture;
  let deps: ChatDeps;
  beforeAll(async () => {
    fx = await startChatFixture({
      TOTP_RATE_CODES_PER_LABEL: String(CODES_PER_LABEL),
      // The other limits only get in the way of the long list below.
      TOTP_RATE_REQUESTS_PER_PRINCIPAL: "1000",
      TOTP_RATE_WRITES_PER_PRINCIPAL: "1000",
    });
    deps = { client: fx.client("telegram-bot") };
  });
  afterAll(() => fx?.close());

  /** The audit lines of one principal: what reached the core on that user's behalf. */
  const callsFor = async (principal: string) => (await fx.audit()).filter((line) => line.principal === principal);

  /** Shows `label`'s code to `ctx` and checks it against the seed, computed by another implementation. */
  async function expectCode(ctx: ChatContext, label: string, seed: string, reply?: ChatReply) {
    const shown = reply ?? (await handleMessage(ctx, `code ${label}`, deps));
    const code = shown.code;
    expect(code, plainText(shown)).toBeDefined();
    if (!code) return shown;
    expect(code.label).toBe(label);
    expect(code.code).toBe(expectedCode(seed, code.serverTime.getTime(), { period: code.period }));
    expectNoSecret(shown, { seed, code: code.code });
    return shown;
  }

  it("help and start say what the bot does, how to add a seed safely, and the principal, in platform-neutral commands", async () => {
    for (const word of ["help", "start", "HELP"]) {
      const reply = await handleMessage(telegramDm("5001"), word, deps);
      const text = plainText(reply);
      expect(text).toContain("telegram:5001");
      expect(text).toMatch(/QR code/);
      expect(text).toMatch(/delete/);
      const commands = reply.paragraphs
        .flat()
        .filter((span) => span.kind === "command")
        .map((span) => span.text);
      expect(commands).toEqual(expect.arrayContaining(["list", "code <label>", "remove <label>", "whoami", "help"]));
      // The core writes no platform syntax: no leading slash, no backticks.
      expect(commands.every((command) => !/^\/|`/.test(command))).toBe(true);
    }
    expect(await callsFor("telegram:5001")).toEqual([]);
  });

  it("whoami answers the principal an operator puts in the policy", async () => {
    const reply = await handleMessage(telegramDm("5002"), "whoami", deps);
    expect(reply.paragraphs.flat()).toContainEqual({ kind: "strong", text: "telegram:5002" });
    const zulip = await handleMessage({ ...telegramDm("42"), platform: "zulip" }, "whoami", deps);
    expect(plainText(zulip)).toContain("zulip:42");
  });

  it("adds an otpauth URI, asks to delete the message, and shows the code hidden, with the time left and refresh", async () => {
    const ctx = telegramDm("5003");
    const seed = newSecret();
    const added = await handleMessage(ctx, `add github otpauth://totp/GitHub:alice?secret=${seed}&issuer=GitHub`, deps);
    expect(added.deleteUserMessage).toBe(true);
    expect(plainText(added)).toMatch(
      /^Stored github \(GitHub, alice\), 6 digits every 30 s\. Get its code with code github\.$/,
    );
    expectNoSecret(added, { seed });

    const before = Date.now();
    const shown = await expectCode(ctx, "github", seed);
    const code = shown.code;
    if (!code) return;
    expect(shown.deleteUserMessage).toBeUndefined();
    expect(code).toMatchObject({ issuer: "GitHub", account: "alice", period: 30 });
    const leftMs = code.validUntil.getTime() - code.serverTime.getTime();
    expect(leftMs).toBeGreaterThan(0);
    expect(leftMs).toBeLessThanOrEqual(30_000);
    expect(plainText(shown)).toContain(`Valid for ${Math.ceil(leftMs / 1000)} more seconds.`);
    // The expiry by this process's clock: now plus what the core said was left.
    expect(code.expiresAt.getTime()).toBeGreaterThanOrEqual(before + leftMs);
    expect(shown.buttons).toEqual([[{ text: "Refresh", action: { kind: "refresh", label: "github" } }]]);

    const refreshed = await handleAction(ctx, { kind: "refresh", label: "github" }, deps);
    expect(refreshed.replacesMessage).toBe(true);
    await expectCode(ctx, "github", seed, refreshed);
  });

  it("adds a base32 secret in groups, lower-case and padded, with the defaults", async () => {
    const ctx = telegramDm("5004");
    const seed = newSecret();
    const grouped = `${seed
      .toLowerCase()
      .match(/.{1,4}/g)
      ?.join(" ")}====`;
    const added = await handleMessage(ctx, `ADD bank ${grouped}`, deps);
    expect(added.deleteUserMessage).toBe(true);
    expect(plainText(added)).toContain("Stored bank, 6 digits every 30 s");
    expectNoSecret(added, { seed });
    await expectCode(ctx, "bank", seed);
  });

  it("lists personal and team labels apart, one code button each; an empty list says how to add", async () => {
    const empty = await handleMessage(telegramDm("5005"), "list", deps);
    expect(plainText(empty)).toMatch(/You have no labels yet\. Add one with add <label> <otpauth URI>/);
    expect(empty.buttons).toBeUndefined();

    const teamSeed = newSecret();
    await fx
      .client("admin")
      .registerSeed({ label: "team-aws", otpauthUri: `otpauth://totp/AWS:root?secret=${teamSeed}` });
    const ops = telegramDm("111");
    await handleMessage(ops, `add mine otpauth://totp/x?secret=${newSecret()}`, deps);
    const listed = await handleMessage(ops, "list", deps);
    expect(plainText(listed)).toBe(
      ["Your labels", "mine: x", "Team labels (shared)", "team-aws: AWS, root", "[mine] [team-aws (team)]"].join("\n"),
    );
    expect(listed.buttons).toEqual([
      [{ text: "mine", action: { kind: "code", label: "mine" } }],
      [{ text: "team-aws (team)", action: { kind: "code", label: "team-aws" } }],
    ]);
    // A press of the team label's button, through its callback data, shows its code in a new message.
    const data = encodeAction({ kind: "code", label: "team-aws" });
    const action = decodeAction(data);
    expect(action).toEqual({ kind: "code", label: "team-aws" });
    if (!action) return;
    const pressed = await handleAction(ops, action, deps);
    expect(pressed.replacesMessage).toBeUndefined();
    await expectCode(ops, "team-aws", teamSeed, pressed);

    // The Zulip bot, for a Zulip member of ops, sees the same team label.
    const zulip = await handleMessage(
      { platform: "zulip", userId: "42", origin: "private", answersPrivately: false },
      "list",
      { client: fx.client("zulip-bot") },
    );
    expect(plainText(zulip)).toContain("team-aws: AWS, root");
  });

  it("pages through a long list and shows a bounded part of it", async () => {
    const ctx = telegramDm("5006");
    for (let i = 0; i < 55; i++) {
      const label = `l${String(i).padStart(2, "0")}`;
      await handleMessage(ctx, `add ${label} otpauth://totp/x?secret=${newSecret()}`, deps);
    }
    const listed = await handleMessage(ctx, "list", deps);
    expect(listed.buttons).toHaveLength(50);
    expect(listed.buttons?.[49]?.[0]?.text).toBe("l49");
    expect(plainText(listed)).toContain("Only the first 50 are shown; use code <label> for the others.");
  });

  it("refuses codes and lists where others read the answer, without calling the core; answers privately otherwise", async () => {
    const seed = newSecret();
    await handleMessage(telegramDm("5007"), `add work otpauth://totp/x?secret=${seed}`, deps);
    const calls = (await callsFor("telegram:5007")).length;
    for (const text of ["code work", "list"]) {
      const refused = await handleMessage(telegramGroup("5007"), text, deps);
      expect(plainText(refused)).toMatch(/^Ask me in a private chat/);
      expect(refused.code).toBeUndefined();
    }
    const pressed = await handleAction(telegramGroup("5007"), { kind: "code", label: "work" }, deps);
    expect(plainText(pressed)).toMatch(/^Ask me in a private chat/);
    expect(await callsFor("telegram:5007")).toHaveLength(calls);

    // A Zulip stream mention, answered by direct message: the code goes out.
    const zulipSeed = newSecret();
    const zulipDeps = { client: fx.client("zulip-bot") };
    const dm: ChatContext = { platform: "zulip", userId: "7", origin: "private", answersPrivately: false };
    await handleMessage(dm, `add zwork otpauth://totp/x?secret=${zulipSeed}`, zulipDeps);
    const mention = await handleMessage({ ...dm, origin: "public", answersPrivately: true }, "code zwork", zulipDeps);
    expect(mention.code?.code).toBe(expectedCode(zulipSeed, mention.code?.serverTime.getTime() ?? 0));
  });

  it("never registers a seed sent where others read it, and asks to delete it", async () => {
    const seed = newSecret();
    for (const ctx of [telegramGroup("5008"), { ...telegramGroup("5008"), answersPrivately: true }]) {
      for (const text of [
        `add leaked otpauth://totp/x?secret=${seed}`,
        `add leaked ${seed}`,
        seed,
        `import ${migrationUri([{ secret: seed }])}`,
      ]) {
        const reply = await handleMessage(ctx, text, deps);
        expect(reply.deleteUserMessage).toBe(true);
        expect(plainText(reply)).toMatch(/I never register a seed sent here: if others may have seen it/);
        // Whether the message is gone is the adapter's to say: it knows whether its deletion worked.
        expect(plainText(reply)).not.toMatch(/delete/i);
        expectNoSecret(reply, { seed });
      }
      const photo = await handleImage(
        ctx,
        qrImage(`otpauth://totp/x?secret=${seed}`, { format: "jpeg" }),
        "leaked",
        deps,
      );
      expect(photo.deleteUserMessage).toBe(true);
      expect(plainText(photo)).toMatch(/only in a private chat/);
      expect(plainText(photo)).not.toMatch(/delete/i);
    }
    expect(await callsFor("telegram:5008")).toEqual([]);
  });

  it("asks to delete any message that carries a seed, even plain text or another command", async () => {
    const seed = newSecret();
    const plain = await handleMessage(telegramDm("5009"), seed, deps);
    expect(plain.deleteUserMessage).toBe(true);
    expect(plainText(plain)).toBe(
      "That looks like a seed. To store it, send add <label> <otpauth URI or base32>, or a photo of its QR code with the label as caption.",
    );
    const code = await handleMessage(telegramDm("5009"), `code otpauth://totp/x?secret=${seed}`, deps);
    expect(code.deleteUserMessage).toBe(true);
    expectNoSecret(code, { seed });
    const unknown = await handleMessage(telegramDm("5009"), "hello there", deps);
    expect(plainText(unknown)).toBe("I don't know that command. Send help to see what I can do.");
    expect(unknown.deleteUserMessage).toBeUndefined();
    expect(await callsFor("telegram:5009")).toEqual([]);
  });

  it("imports an export: lists the labels made and each refused entry with its position and reason", async () => {
    const ctx = telegramDm("5010");
    const [a, b] = [newSecret(), newSecret()];
    const uri = migrationUri([
      { secret: a, issuer: "Acme", name: "alice" },
      { secret: newSecret(), issuer: "Old", name: "counter", type: 1 },
      { secret: b, issuer: "Bank", name: "bob" },
    ]);
    const reply = await handleMessage(ctx, `import ${uri}`, deps);
    expect(reply.deleteUserMessage).toBe(true);
    const text = plainText(reply);
    expect(text).toMatch(
      /^Imported 2 of 3 entries\nacme-alice \(Acme, alice\), 6 digits every 30 s\nbank-bob \(Bank, bob\)/,
    );
    expect(text).toMatch(/\nEntry 2 \(Old:counter\) was not imported: .*hotp/i);
    for (const seed of [a, b]) expectNoSecret(reply, { seed });
    await expectCode(ctx, "acme-alice", a);
    await expectCode(ctx, "bank-bob", b);

    const notExport = await handleMessage(ctx, "import https://example.com", deps);
    expect(plainText(notExport)).toMatch(/^Send the export's URI: import <otpauth-migration URI>/);
    const broken = await handleMessage(ctx, "import otpauth-migration://offline?data=%%%", deps);
    expect(plainText(broken)).toMatch(/^That was refused: /);
  });

  it("registers the QR code of a photo under its caption: a Telegram-sized JPEG and a PNG", async () => {
    const ctx = telegramDm("5011");
    const seed = newSecret();
    const photo = qrImage(`otpauth://totp/Shop:carol?secret=${seed}&issuer=Shop`, {
      format: "jpeg",
      size: 800,
      quality: 80,
    });
    const added = await handleImage(ctx, photo, " shop ", deps);
    expect(added.deleteUserMessage).toBe(true);
    expect(plainText(added)).toMatch(/^Stored shop \(Shop, carol\)/);
    expectNoSecret(added, { seed });
    await expectCode(ctx, "shop", seed);

    const pngSeed = newSecret();
    const png = qrImage(`otpauth://totp/x?secret=${pngSeed}`, { format: "png", scale: 4 });
    expect(plainText(await handleImage(ctx, png, "png-label", deps))).toMatch(/^Stored png-label/);
    await expectCode(ctx, "png-label", pngSeed);
  });

  it("imports every entry of an export's QR code, the caption prefixing the labels", async () => {
    const ctx = telegramDm("5012");
    const [a, b] = [newSecret(), newSecret()];
    const photo = qrImage(
      migrationUri([
        { secret: a, issuer: "Acme", name: "a" },
        { secret: b, name: "b" },
      ]),
      {
        format: "jpeg",
        size: 800,
        quality: 80,
      },
    );
    const reply = await handleImage(ctx, photo, "work", deps);
    expect(reply.deleteUserMessage).toBe(true);
    expect(plainText(reply)).toMatch(/^Imported 2 of 2 entries\nwork-acme-a .*\nwork-b /);
    await expectCode(ctx, "work-acme-a", a);
    await expectCode(ctx, "work-b", b);
    const noCaption = await handleImage(ctx, photo, undefined, deps);
    // The same names again: refused one by one, nothing overwritten.
    expect(plainText(noCaption)).toMatch(/^Imported 2 of 2 entries\nacme-a /);
  });

  it("explains a photo it cannot use: no caption, no QR code, not an otpauth code, not an image", async () => {
    const ctx = telegramDm("5013");
    const seed = newSecret();
    const uncaptioned = await handleImage(
      ctx,
      qrImage(`otpauth://totp/x?secret=${seed}`, { format: "jpeg" }),
      "",
      deps,
    );
    expect(plainText(uncaptioned)).toMatch(/^That QR code holds a seed, but I need a label for it/);
    expect(uncaptioned.deleteUserMessage).toBe(true);

    const side = 800;
    const blank = jpeg.encode({ width: side, height: side, data: Buffer.alloc(side * side * 4, 200) }, 80).data;
    const noQr = await handleImage(ctx, blank, "x", deps);
    expect(plainText(noQr)).toMatch(/^I found no QR code in that image/);
    expect(noQr.deleteUserMessage).toBe(true);

    const url = await handleImage(ctx, qrImage("https://example.com/", { format: "png" }), "x", deps);
    expect(plainText(url)).toBe("That QR code holds no otpauth:// seed or otpauth-migration:// export.");

    const junk = await handleImage(ctx, Buffer.from("not an image at all"), "x", deps);
    expect(plainText(junk)).toMatch(/^I could not read that image: the image is neither a JPEG nor a PNG/);
    const badLabel = await handleImage(
      ctx,
      qrImage(`otpauth://totp/x?secret=${seed}`, { format: "png" }),
      "My Label",
      deps,
    );
    expect(plainText(badLabel)).toBe(
      "That caption is not a valid label: labels are lower-case. Send the photo again with a label as caption.",
    );
    expect(await callsFor("telegram:5013")).toEqual([]);
  });

  it("removes only after a confirm, by button or by text; cancel removes nothing", async () => {
    const ctx = telegramDm("5014");
    const seed = newSecret();
    await handleMessage(ctx, `add old otpauth://totp/x?secret=${seed}`, deps);
    const asked = await handleMessage(ctx, "remove old", deps);
    expect(plainText(asked)).toMatch(/^Remove old\? /);
    expect(asked.buttons).toEqual([
      [
        { text: "Remove", action: { kind: "confirmRemove", label: "old" } },
        { text: "Cancel", action: { kind: "cancelRemove", label: "old" } },
      ],
    ]);
    const cancelled = await handleAction(ctx, { kind: "cancelRemove", label: "old" }, deps);
    expect(cancelled).toMatchObject({ replacesMessage: true });
    expect(plainText(cancelled)).toBe("Nothing was removed: old stays.");
    await expectCode(ctx, "old", seed);

    const removed = await handleAction(ctx, { kind: "confirmRemove", label: "old" }, deps);
    expect(removed.replacesMessage).toBe(true);
    expect(plainText(removed)).toBe("Removed old.");
    expect(plainText(await handleMessage(ctx, "code old", deps))).toMatch(/^There is no label old you can read/);

    await handleMessage(ctx, `add older otpauth://totp/x?secret=${newSecret()}`, deps);
    expect(plainText(await handleMessage(ctx, "remove older CONFIRM", deps))).toBe("Removed older.");
    const deletes = (await callsFor("telegram:5014")).filter((line) => line.method === "DeleteSeed");
    expect(deletes.map((line) => [line.label, line.outcome])).toEqual([
      ["old", "ok"],
      ["older", "ok"],
    ]);
  });

  it("words not found, not allowed and invalid input shortly, never quoting a seed", async () => {
    const ops = telegramDm("111");
    expect(plainText(await handleMessage(ops, "code nope", deps))).toBe(
      "There is no label nope you can read. Send list to see yours.",
    );
    // Someone else's personal label answers like a missing one.
    expect(plainText(await handleMessage(telegramDm("5015"), "code mine", deps))).toMatch(/^There is no label mine/);

    const notAllowed = await handleMessage(ops, "remove team-aws confirm", deps);
    expect(plainText(notAllowed)).toBe(
      "You are not allowed to do that. An operator can allow it for your principal, telegram:111.",
    );
    const seed = newSecret();
    const sharedAdd = await handleMessage(ops, `add team-aws ${seed}`, deps);
    expect(plainText(sharedAdd)).toMatch(/^You are not allowed to do that/);
    expect(sharedAdd.deleteUserMessage).toBe(true);

    const ctx = telegramDm("5016");
    const badSeed = await handleMessage(ctx, "add x NOT-BASE32-AT-ALL", deps);
    expect(plainText(badSeed)).toMatch(/^That was refused: .*base32/i);
    expect(badSeed.deleteUserMessage).toBe(true);
    const hotp = await handleMessage(ctx, `add y otpauth://hotp/x?secret=${seed}&counter=1`, deps);
    expect(plainText(hotp)).toMatch(/^That was refused: .*hotp/i);
    expectNoSecret(hotp, { seed });

    await handleMessage(ctx, `add twice ${newSecret()}`, deps);
    const again = await handleMessage(ctx, `add twice ${seed}`, deps);
    expect(plainText(again)).toBe(
      "Label twice already exists. Overwriting is not offered here: remove it first with remove twice, then add it again.",
    );
    expectNoSecret(again, { seed });
  });

  it("checks labels before any call, without repeating them", async () => {
    const ctx = telegramDm("5017");
    const seed = newSecret();
    const cases: [string, RegExp][] = [
      ["code GitHub", /^That label is not valid: labels are lower-case\. Use code <label>\.$/],
      ["code", /^Name a label: code <label>\.$/],
      ["code a..b", /^That label is not valid: a label has no '\.\.'/],
      [`code ${"a".repeat(49)}`, /^That label is not valid: a label has at most 48 characters/],
      [
        "remove -x",
        /^That label is not valid: a label starts with a lower-case letter or a digit\. Use remove <label>\.$/,
      ],
      ["remove two words", /^That label is not valid: a label has no spaces/],
      [`add ${seed}`, /^That label is not valid: labels are lower-case\. Use add <label> <otpauth URI or base32>\.$/],
      ["add lonely", /^Send the seed after the label: add <label> <otpauth URI or base32>\.$/],
    ];
    for (const [text, expected] of cases) {
      const reply = await handleMessage(ctx, text, deps);
      expect(plainText(reply)).toMatch(expected);
      expectNoSecret(reply, { seed });
    }
    expect(await callsFor("telegram:5017")).toEqual([]);
  });

  it("says how long to wait when rate limited, from retry-after rounded up to seconds", async () => {
    const ctx = telegramDm("5018");
    await handleMessage(ctx, `add busy ${newSecret()}`, deps);
    for (let i = 0; i < CODES_PER_LABEL; i++) expect((await handleMessage(ctx, "code busy", deps)).code).toBeDefined();
    const limited = await handleMessage(ctx, "code busy", deps);
    expect(limited.code).toBeUndefined();
    const seconds = Number(plainText(limited).match(/^Too many requests\. Try again in (\d+) s\.$/)?.[1]);
    // One minute holds CODES_PER_LABEL codes: the next one is at most 60 / CODES_PER_LABEL seconds away.
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60 / CODES_PER_LABEL);
    const outcome = (await callsFor("telegram:5018")).at(-1)?.outcome;
    expect(outcome).toBe("RESOURCE_EXHAUSTED");
  });

  it("says the service is unavailable when totp-core cannot be reached, and that a bot may not act for another platform", async () => {
    const client = createTotpClient({
      ...fx.core.clientOptions("telegram-bot"),
      address: `127.0.0.1:${await freePort()}`,
      maxAttempts: 1,
    });
    try {
      const reply = await handleMessage(telegramDm("5019"), "code anything", { client });
      expect(plainText(reply)).toBe("The code service is unavailable right now. Please try again in a moment.");
    } finally {
      client.close();
    }
    // The Telegram bot's certificate asking for a Zulip user: refused by the core, worded like any refusal.
    const reply = await handleMessage({ ...telegramDm("5019"), platform: "zulip" }, "list", deps);
    expect(plainText(reply)).toMatch(/^You are not allowed to do that\..*zulip:5019\.$/);
  });
});
