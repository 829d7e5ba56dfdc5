import { describe, expect, it } from "vitest";
import { type NarrowSubject, narrowAccepts, parseNarrow } from "../src/zulip/narrowAccepts.js";

const alice = { id: 8, email: "alice@zulip.test" };
const bot = { id: 7, email: "bot@zulip.test" };
const dm: NarrowSubject = { type: "private", sender: alice, participants: [bot, alice], flags: [] };
const mention: NarrowSubject = {
  type: "stream",
  stream: "General",
  topic: "Ops",
  sender: alice,
  participants: [],
  flags: ["mentioned"],
};

describe("narrowAccepts", () => {
  it("combines terms with AND and honours negation", () => {
    const dmOrMention = parseNarrow(
      JSON.stringify([
        ["is", "dm"],
        ["is", "mentioned"],
      ]),
    );
    expect([dm, mention].map((m) => narrowAccepts(dmOrMention, m))).toEqual([false, false]);
    const notDm = parseNarrow(JSON.stringify([{ operator: "is", operand: "dm", negated: true }]));
    expect([dm, mention].map((m) => narrowAccepts(notDm, m))).toEqual([false, true]);
  });

  it("matches streams and topics case-insensitively, senders and DM partners by email or id", () => {
    expect(narrowAccepts(parseNarrow('[["channel","general"],["topic","ops"]]'), mention)).toBe(true);
    expect(narrowAccepts(parseNarrow('[["sender","ALICE@zulip.test"]]'), dm)).toBe(true);
    expect(narrowAccepts(parseNarrow('[["dm","7"]]'), dm)).toBe(true);
    expect(narrowAccepts(parseNarrow('[["dm","7"]]'), mention)).toBe(false);
  });

  it("refuses what Zulip refuses", () => {
    expect(() => parseNarrow("not json")).toThrow(/not valid JSON/);
    expect(() => parseNarrow('[["near","5"]]')).toThrow(/unknown operator/);
    expect(() => parseNarrow('[["is","nonsense"]]')).toThrow(/unknown operand/);
  });
});
