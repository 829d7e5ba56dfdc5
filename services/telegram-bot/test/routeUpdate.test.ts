import type { Update } from "telegraf/types";
import { describe, expect, it } from "vitest";
import { commandText, routeUpdate } from "../src/routeUpdate.js";

const alice = { id: 100001, is_bot: false, first_name: "Alice" };
const dm = { id: 100001, type: "private" as const, first_name: "Alice" };
const group = { id: -500, type: "supergroup" as const, title: "Ops" };
const message = (fields: object, chat: object = dm) =>
  ({ update_id: 1, message: { message_id: 7, date: 0, chat, from: alice, ...fields } }) as unknown as Update;

describe("commandText: Telegram's command syntax removed", () => {
  it("drops the slash and this bot's @name, keeps the arguments, passes plain text", () => {
    expect(commandText("/code github", "test_totp_bot")).toBe("code github");
    expect(commandText("/code@Test_Totp_Bot github", "test_totp_bot")).toBe("code github");
    expect(commandText("/list", "test_totp_bot")).toBe("list");
    expect(commandText("/add  shop otpauth://totp/x?secret=AB", "b")).toBe("add  shop otpauth://totp/x?secret=AB");
    expect(commandText("hello /code", "b")).toBe("hello /code");
    expect(commandText("/code@other_bot github", "test_totp_bot")).toBeUndefined();
  });
});

describe("routeUpdate", () => {
  it("reads a private text message as the user's, in a private chat", () => {
    expect(routeUpdate(message({ text: "/whoami" }), "bot")).toEqual({
      kind: "text",
      ctx: { platform: "telegram", userId: "100001", origin: "private", answersPrivately: false },
      place: { chatId: 100001, messageId: 7 },
      text: "whoami",
    });
  });

  it("treats groups as public, answered where they were asked", () => {
    const input = routeUpdate(message({ text: "/code aws" }, group), "bot");
    expect(input).toMatchObject({ kind: "text", ctx: { origin: "public", answersPrivately: false }, text: "code aws" });
    expect(routeUpdate(message({ sticker: {} }, group), "bot")).toEqual({ kind: "ignore" });
    expect(routeUpdate(message({ sticker: {} }), "bot")).toMatchObject({ kind: "text", text: "" });
  });

  it("takes the largest size of a photo, and an image sent as a file", () => {
    const photo = [
      { file_id: "small", file_unique_id: "a", width: 90, height: 90, file_size: 10 },
      { file_id: "large", file_unique_id: "c", width: 1280, height: 1280, file_size: 300 },
      { file_id: "medium", file_unique_id: "b", width: 320, height: 320, file_size: 50 },
    ];
    expect(routeUpdate(message({ photo, caption: "shop" }), "bot")).toMatchObject({
      kind: "image",
      fileId: "large",
      fileSize: 300,
      caption: "shop",
    });
    const document = { file_id: "doc", file_unique_id: "d", mime_type: "image/png", file_size: 99 };
    expect(routeUpdate(message({ document }), "bot")).toMatchObject({ kind: "image", fileId: "doc" });
    const pdf = { ...document, mime_type: "application/pdf" };
    expect(routeUpdate(message({ document: pdf }), "bot")).toMatchObject({ kind: "text", text: "" });
  });

  it("reads the caption of any other file as text, a seed in it included", () => {
    const pdf = { file_id: "doc", file_unique_id: "d", mime_type: "application/pdf" };
    expect(routeUpdate(message({ document: pdf, caption: "/add x JBSWY3DPEHPK3PXP" }), "bot")).toMatchObject({
      kind: "text",
      text: "add x JBSWY3DPEHPK3PXP",
    });
    expect(routeUpdate(message({ video: {}, caption: "JBSWY3DPEHPK3PXP" }, group), "bot")).toMatchObject({
      kind: "text",
      ctx: { origin: "public" },
      text: "JBSWY3DPEHPK3PXP",
    });
    expect(routeUpdate(message({ document: pdf, caption: "/list@other_bot" }, group), "bot")).toEqual({
      kind: "ignore",
    });
  });

  it("takes an edited message only when it carries a seed, in its text or caption", () => {
    const edited = (fields: object, chat: object = dm) =>
      ({
        update_id: 4,
        edited_message: { message_id: 8, date: 0, edit_date: 1, chat, from: alice, ...fields },
      }) as unknown as Update;
    expect(routeUpdate(edited({ text: "/add x JBSWY3DPEHPK3PXP" }), "bot")).toMatchObject({
      kind: "edited",
      ctx: { origin: "private" },
      place: { chatId: 100001, messageId: 8 },
    });
    expect(routeUpdate(edited({ photo: [], caption: "JBSWY3DPEHPK3PXP" }, group), "bot")).toMatchObject({
      kind: "edited",
      ctx: { origin: "public" },
    });
    expect(routeUpdate(edited({ text: "/code github" }), "bot")).toEqual({ kind: "ignore" });
  });

  it("decodes a button press, and marks data it did not write", () => {
    const press = (data: string) =>
      ({
        update_id: 2,
        callback_query: {
          id: "q1",
          from: alice,
          chat_instance: "c",
          data,
          message: { message_id: 9, date: 0, chat: dm },
        },
      }) as unknown as Update;
    expect(routeUpdate(press("r:shop"), "bot")).toMatchObject({
      kind: "action",
      queryId: "q1",
      place: { chatId: 100001, messageId: 9 },
      action: { kind: "refresh", label: "shop" },
    });
    expect(routeUpdate(press("x:forged"), "bot")).toMatchObject({ kind: "action", action: undefined });
  });

  it("ignores messages from bots and updates of other kinds", () => {
    expect(routeUpdate(message({ text: "/list", from: { ...alice, is_bot: true } }), "bot")).toEqual({
      kind: "ignore",
    });
    expect(routeUpdate({ update_id: 3, poll: {} } as unknown as Update, "bot")).toEqual({ kind: "ignore" });
  });
});
