import { describe, expect, it } from "vitest";
import { parseCommand } from "../src/index.js";

describe("parseCommand", () => {
  it.each([
    ["start", { kind: "start" }],
    ["help", { kind: "help" }],
    ["  HeLp  ", { kind: "help" }],
    ["whoami", { kind: "whoami" }],
    ["list", { kind: "list" }],
    ["list everything", { kind: "list" }],
    ["code github", { kind: "code", label: "github" }],
    ["Code   github ", { kind: "code", label: "github" }],
    ["code", { kind: "code", label: "" }],
    ["code two words", { kind: "code", label: "two words" }],
    ["add github otpauth://totp/x?secret=AB", { kind: "add", label: "github", seed: "otpauth://totp/x?secret=AB" }],
    ["add bank JBSW Y3DP\nEHPK 3PXP", { kind: "add", label: "bank", seed: "JBSW Y3DP\nEHPK 3PXP" }],
    ["add lonely", { kind: "add", label: "lonely", seed: "" }],
    ["add", { kind: "add", label: "", seed: "" }],
    ["import otpauth-migration://offline?data=x", { kind: "import", uri: "otpauth-migration://offline?data=x" }],
    ["remove old", { kind: "remove", label: "old", confirmed: false }],
    ["REMOVE old Confirm", { kind: "remove", label: "old", confirmed: true }],
    ["remove old please", { kind: "remove", label: "old please", confirmed: false }],
    ["remove", { kind: "remove", label: "", confirmed: false }],
    ["codes github", { kind: "unknown" }],
    ["hello", { kind: "unknown" }],
    ["", { kind: "text" }],
    ["   ", { kind: "text" }],
    ["otpauth://totp/x?secret=AB", { kind: "text" }],
    ["42 is the answer", { kind: "text" }],
    ["¿qué?", { kind: "text" }],
  ])("%j", (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });
});
