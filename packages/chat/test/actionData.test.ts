import { describe, expect, it } from "vitest";
import {
  actionCommand,
  type ChatAction,
  decodeAction,
  encodeAction,
  MAX_ACTION_BYTES,
  MAX_LABEL_LENGTH,
} from "../src/index.js";

const longest = `${"a".repeat(MAX_LABEL_LENGTH - 4)}.b-c`;
const kinds: ChatAction["kind"][] = ["code", "refresh", "confirmRemove", "cancelRemove"];

describe("button actions as callback data", () => {
  it("fits Telegram's 64 bytes for every action with a 48-character label, and decodes to the same action", () => {
    expect(longest).toHaveLength(48);
    const encoded = new Set<string>();
    for (const kind of kinds) {
      const action = { kind, label: longest };
      const data = encodeAction(action);
      expect(Buffer.byteLength(data)).toBeLessThanOrEqual(MAX_ACTION_BYTES);
      expect(decodeAction(data)).toEqual(action);
      encoded.add(data);
    }
    // Each kind has its own data: a press can never be taken for another action.
    expect(encoded.size).toBe(kinds.length);
  });

  it.each([
    "",
    "c",
    "c:",
    "x:github",
    "code:github",
    "c:GitHub",
    "c:a..b",
    `c:${"a".repeat(49)}`,
    "c:github\n",
    `c:${"é".repeat(40)}`,
    "c:c:github",
  ])("decodes garbled data %j to undefined", (data) => {
    expect(decodeAction(data)).toBeUndefined();
  });

  it("says which text command does what a button does", () => {
    expect(actionCommand({ kind: "code", label: "x" })).toBe("code x");
    expect(actionCommand({ kind: "refresh", label: "x" })).toBe("code x");
    expect(actionCommand({ kind: "confirmRemove", label: "x" })).toBe("remove x confirm");
    expect(actionCommand({ kind: "cancelRemove", label: "x" })).toBeUndefined();
  });
});
