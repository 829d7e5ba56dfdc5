import { migrationUri, newSecret, qrImage, type TgUser } from "@totp-custody/testkit";
import { expect } from "vitest";
import { type BotWorld, botReplyAfter, isCodeOf, shownCode } from "./botHarness.js";

/**
 * Every command and button of the bot, as one user in a private chat, against whatever bot process runs on
 * `world` (polling or webhook). Each seed and code it uses goes into `secrets`, for the output check.
 */
export async function checkEveryCommand(world: BotWorld, user: TgUser, secrets: Set<string>): Promise<void> {
  const { tg } = world;
  const chat = user.id;
  const say = async (text: string) => {
    const sent = tg.sendText(user, text);
    return { sent, reply: await botReplyAfter(tg, chat, sent) };
  };

  for (const command of ["/start", "/help"]) {
    const { reply } = await say(command);
    expect(reply.text).toContain("two-factor codes");
    expect(reply.text).toContain(`telegram:${user.id}`);
    expect(reply.text).toContain("/add <label> <otpauth URI>");
  }
  expect((await say("/whoami")).reply.text).toBe(
    `Your principal is telegram:${user.id}: an operator puts it in totp-core's policy to give you your team's labels.`,
  );
  expect((await say("/frobnicate")).reply.text).toBe("I don't know that command. Send /help to see what I can do.");
  // Plain text reads as the core's grammar too (`list` works without the slash), so words get the command hint.
  expect((await say("hello there")).reply.text).toBe("I don't know that command. Send /help to see what I can do.");
  expect((await say("👋")).reply.text).toBe("Send /help to see what I can do.");
  expect((await say("/list")).reply.text).toMatch(/^You have no labels yet/);

  // A seed as text: stored, the message that carried it deleted, and the reply says so.
  const typed = newSecret();
  secrets.add(typed);
  const added = await say(`/add github otpauth://totp/GitHub:alice?secret=${typed}&issuer=GitHub`);
  expect(added.reply.text).toBe(
    "Stored github (GitHub, alice), 6 digits every 30 s. Get its code with /code github.\n" +
      "I deleted your message: it carried a seed.",
  );
  expect(tg.message(chat, added.sent)?.deleted).toBe(true);

  // A seed as a QR photo (a JPEG as Telegram would send it), the label as caption.
  const scanned = newSecret();
  secrets.add(scanned);
  const jpeg = qrImage(`otpauth://totp/Shop:me?secret=${scanned}&digits=8`, { format: "jpeg", size: 800, quality: 80 });
  const photo = tg.sendPhoto(user, jpeg, { caption: "shop" });
  const stored = await botReplyAfter(tg, chat, photo);
  expect(stored.text).toMatch(/^Stored shop \(Shop, me\), 8 digits every 30 s\./);
  expect(stored.text).toContain("I deleted your message: it carried a seed.");
  expect(tg.message(chat, photo)?.deleted).toBe(true);

  // A Google Authenticator export, as a URI and as a QR photo with a prefix.
  const exported = [newSecret(), newSecret()];
  for (const seed of exported) secrets.add(seed);
  const uri = migrationUri([{ secret: exported[0] as string, name: "mail", issuer: "Mail" }]);
  const imported = await say(`/import ${uri}`);
  expect(imported.reply.text).toMatch(/^Imported 1 of 1 entries/);
  expect(tg.message(chat, imported.sent)?.deleted).toBe(true);
  const exportPhoto = qrImage(migrationUri([{ secret: exported[1] as string, name: "chat", issuer: "Chat" }]), {
    format: "jpeg",
    size: 800,
    quality: 80,
  });
  const exportSent = tg.sendPhoto(user, exportPhoto, { caption: "work" });
  expect((await botReplyAfter(tg, chat, exportSent)).text).toMatch(/^Imported 1 of 1 entries/);
  expect(tg.message(chat, exportSent)?.deleted).toBe(true);

  // /code: the code of the stored seed, computed independently, inside the spoiler only.
  const asked = Date.now();
  const code = await say("/code github");
  const first = shownCode(code.reply);
  secrets.add(first);
  expect(isCodeOf(first, typed, asked)).toBe(true);
  expect(code.reply.buttons).toEqual([[{ text: "Refresh", callback_data: "r:github" }]]);

  // Refresh: the same message now shows the current code (an edit, or "not modified" within the period).
  const refreshedAt = Date.now();
  const before = tg.requests.length;
  tg.pressButton(user, chat, code.reply.messageId, { text: "Refresh" });
  await tg.waitFor(() => tg.requests.slice(before).find((r) => r.method === "editMessageText"), {
    what: "the refresh's edit",
  });
  const refreshed = tg.message(chat, code.reply.messageId);
  if (!refreshed) throw new Error("the code message is gone");
  const again = shownCode(refreshed);
  secrets.add(again);
  expect(isCodeOf(again, typed, refreshedAt)).toBe(true);

  // A team label, set up by the admin; the user reads it through the policy's ops group.
  const team = newSecret();
  secrets.add(team);
  await world.registerAsAdmin("team-aws", `otpauth://totp/AWS:ops?secret=${team}&issuer=AWS`);

  // /list: personal and team labels apart, one button each; a press shows that label's code in a new message.
  const listed = await say("/list");
  expect(listed.reply.visibleText.split("\n")).toEqual([
    "Your labels",
    "github: GitHub, alice",
    "mail-mail: Mail, mail",
    "shop: Shop, me",
    "work-chat-chat: Chat, chat",
    "Team labels (shared)",
    "team-aws: AWS, ops",
  ]);
  const buttons = listed.reply.buttons.flat();
  expect(buttons.map((b) => b.text)).toEqual(["github", "mail-mail", "shop", "work-chat-chat", "team-aws (team)"]);
  for (const button of buttons) expect(Buffer.byteLength(button.callback_data ?? "")).toBeLessThanOrEqual(64);
  const pressedAt = Date.now();
  tg.pressButton(user, chat, listed.reply.messageId, { text: "shop" });
  const shopCode = await botReplyAfter(tg, chat, listed.reply.messageId);
  const eight = shownCode(shopCode);
  secrets.add(eight);
  expect(isCodeOf(eight, scanned, pressedAt, { digits: 8 })).toBe(true);
  const teamPressedAt = Date.now();
  tg.pressButton(user, chat, listed.reply.messageId, { text: "team-aws (team)" });
  const teamCode = await botReplyAfter(tg, chat, shopCode.messageId);
  expect(teamCode.text).toMatch(/^Code for team-aws \(AWS, ops\)\n/);
  const shared = shownCode(teamCode);
  secrets.add(shared);
  expect(isCodeOf(shared, team, teamPressedAt)).toBe(true);

  // Errors in words: an unknown label, an invalid seed with the core's reason.
  expect((await say("/code nosuch")).reply.text).toBe(
    "There is no label nosuch you can read. Send /list to see yours.",
  );
  const invalid = await say("/add broken otpauth://totp/X?secret=AAAAAAAAAAAAAAAA1");
  expect(invalid.reply.text).toMatch(/^That was refused: /);
  expect(tg.message(chat, invalid.sent)?.deleted).toBe(true);

  // /remove asks first; Cancel removes nothing, Remove removes.
  const asking = await say("/remove github");
  expect(asking.reply.text).toBe("Remove github? Its seed is deleted from totp-core and its codes stop at once.");
  expect(asking.reply.buttons.flat().map((b) => b.text)).toEqual(["Remove", "Cancel"]);
  tg.pressButton(user, chat, asking.reply.messageId, { text: "Cancel" });
  await tg.waitFor(() => tg.message(chat, asking.reply.messageId)?.text.startsWith("Nothing was removed"), {
    what: "the cancelled removal",
  });
  const kept = shownCode((await say("/code github")).reply);
  secrets.add(kept);
  expect(isCodeOf(kept, typed, Date.now() - 30_000)).toBe(true);
  const confirm = await say("/remove github");
  tg.pressButton(user, chat, confirm.reply.messageId, { text: "Remove" });
  await tg.waitFor(() => tg.message(chat, confirm.reply.messageId)?.text === "Removed github.", {
    what: "the confirmed removal",
  });
  expect((await say("/code github")).reply.text).toBe(
    "There is no label github you can read. Send /list to see yours.",
  );
}
