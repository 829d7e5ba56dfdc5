import { describe, expect, it } from "vitest";
import { editLine, type LineState } from "../src/editLine.js";

const typed = (...chunks: string[]): LineState => chunks.reduce(editLine, { text: "" });

describe("editLine", () => {
  it("collects characters until Enter, in one chunk (a paste) or many (typing)", () => {
    expect(typed("abc", "def")).toEqual({ text: "abcdef" });
    expect(typed("abc", "\r")).toEqual({ text: "abc", ended: "enter" });
    expect(typed("otpauth://totp/x?secret=AB\n")).toEqual({ text: "otpauth://totp/x?secret=AB", ended: "enter" });
    expect(typed("abc\x04")).toEqual({ text: "abc", ended: "enter" });
  });

  it("edits with Backspace and Ctrl-U", () => {
    expect(typed("abc", "\x7f", "\x7f", "d")).toEqual({ text: "ad" });
    expect(typed("abc\b")).toEqual({ text: "ab" });
    expect(typed("abc", "\x15", "xy")).toEqual({ text: "xy" });
    expect(typed("\x7f")).toEqual({ text: "" });
  });

  it("drops escape sequences (arrow keys, bracketed paste marks) and other control characters", () => {
    expect(typed("ab\x1b[D\x1b[Cc\x1bOA", "\t\x07d")).toEqual({ text: "abcd" });
    expect(typed("\x1b[200~SECRET\x1b[201~")).toEqual({ text: "SECRET" });
  });

  it("cancels on Ctrl-C and forgets the text", () => {
    expect(typed("abc", "\x03")).toEqual({ text: "", ended: "cancel" });
  });
});
