import { describe, expect, it } from "vitest";
import { validateBotApiRequest } from "../src/index.js";

describe("validateBotApiRequest", () => {
  it("accepts a well-formed sendMessage with an inline keyboard, telegraf's hide:false included", () => {
    expect(
      validateBotApiRequest("sendMessage", {
        chat_id: 42,
        text: "hi",
        protect_content: true,
        entities: [{ type: "spoiler", offset: 0, length: 2 }],
        reply_markup: { inline_keyboard: [[{ text: "Refresh", callback_data: "r", hide: false }]] },
      }),
    ).toEqual([]);
  });

  it("finds the method in any letter case and names an unknown one", () => {
    expect(validateBotApiRequest("SENDmessage", { chat_id: "@channel", text: "x" })).toEqual([]);
    expect(validateBotApiRequest("sendTelepathy", {})).toEqual([
      { method: "sendTelepathy", problem: "unknown method", kind: "unknown_method" },
    ]);
  });

  it("reports missing required fields, unknown fields and wrong types with their paths", () => {
    expect(validateBotApiRequest("sendMessage", { chat_id: 1, colour: "red" })).toEqual([
      { method: "sendMessage", field: "colour", problem: "unknown field", kind: "unknown_field" },
      { method: "sendMessage", field: "text", problem: "required", kind: "missing_field" },
    ]);
    expect(validateBotApiRequest("sendMessage", { chat_id: 1.5, text: "x" })).toEqual([
      {
        method: "sendMessage",
        field: "chat_id",
        problem: "expected Integer or String, got number",
        kind: "wrong_type",
      },
    ]);
    expect(
      validateBotApiRequest("sendMessage", {
        chat_id: 1,
        text: "x",
        reply_markup: { inline_keyboard: [[{ text: "A", callback_data: 7 }]] },
      }),
    ).toEqual([
      {
        method: "sendMessage",
        field: "reply_markup.inline_keyboard[0][0].callback_data",
        problem: "expected String, got number",
        kind: "wrong_type",
      },
    ]);
  });

  it("tells the subtypes of a union apart by their type field", () => {
    expect(validateBotApiRequest("setMyCommands", { commands: [], scope: { type: "chat", chat_id: 5 } })).toEqual([]);
    const violations = validateBotApiRequest("setMyCommands", { commands: [], scope: { type: "chat" } });
    expect(violations).toEqual([expect.objectContaining({ field: "scope.chat_id", kind: "missing_field" })]);
  });

  it("takes an uploaded file only where the spec says InputFile", () => {
    expect(validateBotApiRequest("sendPhoto", { chat_id: 1, photo: "AgACfileid" })).toEqual([]);
    expect(validateBotApiRequest("sendPhoto", { chat_id: 1, photo: 12 })).toEqual([
      expect.objectContaining({ field: "photo", kind: "wrong_type" }),
    ]);
  });
});
