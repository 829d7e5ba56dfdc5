import { type ChatReply, decodeAction, MAX_ACTION_BYTES } from "@totp-custody/chat";
import { describe, expect, it } from "vitest";
import { renderExpired, renderReply } from "../src/renderReply.js";

const at = new Date("2026-12-02T12:00:20Z");
const codeReply = (label: string, code: string): ChatReply => ({
  paragraphs: [
    [
      { kind: "text", text: "Code for " },
      { kind: "label", text: label },
      { kind: "text", text: " (Shop <b>&, me)" },
    ],
    [{ kind: "text", text: "Valid for 10 more seconds." }],
  ],
  code: {
    label,
    code,
    issuer: "Shop <b>&",
    account: "me",
    period: 30,
    validUntil: new Date(at.getTime() + 10_000),
    serverTime: at,
    expiresAt: new Date(at.getTime() + 10_000),
  },
  buttons: [[{ text: "Refresh", action: { kind: "refresh", label } }]],
});

/** The text each entity covers. */
const covered = (text: string, entities: { type: string; offset: number; length: number }[]) =>
  entities.map((e) => [e.type, text.slice(e.offset, e.offset + e.length)]);

describe("renderReply: a core reply as Telegram text, entities and buttons", () => {
  it("puts the code on its own line in one plain spoiler entity, nowhere else, and protects the message", () => {
    const message = renderReply(codeReply("shop", "492039"));
    expect(message.text).toBe("Code for shop (Shop <b>&, me)\n492039\nValid for 10 more seconds.");
    expect(covered(message.text, message.entities)).toEqual([
      ["code", "shop"],
      ["spoiler", "492039"],
    ]);
    expect(message.text.split("492039")).toHaveLength(2);
    expect(message.protect_content).toBe(true);
    expect(message.reply_markup).toEqual({ inline_keyboard: [[{ text: "Refresh", callback_data: "r:shop" }]] });
  });

  it("writes labels and issuer text verbatim with no parse mode, so nothing in them is markup", () => {
    const message = renderReply(codeReply("a_b*c", "000111"));
    expect(message).not.toHaveProperty("parse_mode");
    expect(message.text.startsWith("Code for a_b*c (Shop <b>&, me)")).toBe(true);
  });

  it("counts offsets in UTF-16 units, as the Bot API does", () => {
    const message = renderReply({
      paragraphs: [
        [
          { kind: "text", text: "🔐 é " },
          { kind: "strong", text: "telegram:42" },
          { kind: "text", text: " then " },
          { kind: "command", text: "code <label>" },
        ],
      ],
    });
    expect(covered(message.text, message.entities)).toEqual([
      ["bold", "telegram:42"],
      ["code", "/code <label>"],
    ]);
    expect(message.entities[0]?.offset).toBe(5);
    expect(message.protect_content).toBeUndefined();
    expect(message.reply_markup).toBeUndefined();
  });

  it("says whether the user's seed message was deleted, or asks the user to delete it", () => {
    const reply: ChatReply = { paragraphs: [[{ kind: "text", text: "Stored github." }]], deleteUserMessage: true };
    expect(renderReply(reply, "deleted").text).toBe("Stored github.\nI deleted your message: it carried a seed.");
    expect(renderReply(reply, "failed").text).toMatch(
      /^Stored github\.\nI could not delete your message, and it carries a seed: delete it yourself now/,
    );
  });

  it("gives every button callback data the core can read back, within 64 bytes", () => {
    const label = "x".repeat(48);
    const message = renderReply({
      paragraphs: [[{ kind: "text", text: "Remove?" }]],
      buttons: [
        [
          { text: "Remove", action: { kind: "confirmRemove", label } },
          { text: "Cancel", action: { kind: "cancelRemove", label } },
        ],
      ],
    });
    const buttons = message.reply_markup?.inline_keyboard.flat() ?? [];
    expect(buttons).toHaveLength(2);
    for (const button of buttons) {
      const data = "callback_data" in button ? button.callback_data : "";
      expect(Buffer.byteLength(data)).toBeLessThanOrEqual(MAX_ACTION_BYTES);
      expect(decodeAction(data)?.label).toBe(label);
    }
  });

  it("keeps a reply within Telegram's 4096 characters: whole lines dropped from the end, and counted", () => {
    const line = (i: number) => [
      { kind: "label" as const, text: `label-${i}` },
      { kind: "text" as const, text: `: ${"Issuer ".repeat(30)}` },
    ];
    const long: ChatReply = {
      paragraphs: [[{ kind: "strong", text: "Your labels" }], ...Array.from({ length: 40 }, (_, i) => line(i))],
      buttons: Array.from({ length: 40 }, (_, i) => [{ text: `label-${i}`, action: { kind: "code", label: `l${i}` } }]),
    };
    const message = renderReply(long, "deleted");
    expect(message.text.length).toBeLessThanOrEqual(4096);
    const lines = message.text.split("\n");
    const shown = lines.filter((l) => l.startsWith("label-")).length;
    expect(shown).toBeGreaterThan(10);
    expect(lines.slice(-2)).toEqual([
      `…and ${40 - shown} more lines, too many for one Telegram message.`,
      "I deleted your message: it carried a seed.",
    ]);
    // Every entity still covers what it covered: none cut, none past the end.
    expect(covered(message.text, message.entities)).toEqual([
      ["bold", "Your labels"],
      ...Array.from({ length: shown }, (_, i) => ["code", `label-${i}`]),
    ]);
    expect(message.reply_markup?.inline_keyboard).toHaveLength(40);
    // A reply that fits is left whole.
    const fits = renderReply({ ...long, paragraphs: long.paragraphs.slice(0, 5) });
    expect(fits.text.split("\n")).toHaveLength(5);
  });

  it("cuts a single paragraph longer than Telegram takes, entities clipped, no surrogate pair split", () => {
    const message = renderReply({
      paragraphs: [
        [
          { kind: "text", text: "x".repeat(4094) },
          { kind: "label", text: "🔐🔐🔐" },
        ],
      ],
    });
    expect(message.text.length).toBeLessThanOrEqual(4096);
    expect(message.text.endsWith("…")).toBe(true);
    expect(/[\uD800-\uDBFF]…$/.test(message.text)).toBe(false);
    for (const e of message.entities) expect(e.offset + e.length).toBeLessThanOrEqual(message.text.length - 1);
  });

  it("renders an expired code message with no code and a refresh button", () => {
    const expired = renderExpired("shop");
    expect(expired.text).toBe("The code for shop has expired. Press Refresh for a new one.");
    expect(covered(expired.text, expired.entities)).toEqual([["code", "shop"]]);
    expect(expired.reply_markup?.inline_keyboard).toEqual([[{ text: "Refresh", callback_data: "r:shop" }]]);
  });
});
