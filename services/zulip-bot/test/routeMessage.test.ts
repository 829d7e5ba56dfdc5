import { describe, expect, it } from "vitest";
import { type Incoming, mentionsBot, routeMessage, withoutMention } from "../src/routeMessage.js";
import type { ZulipMessage } from "../src/ZulipApi.js";

const bot = { userId: 5, fullName: "TOTP Bot" };
const alice = { id: 10, email: "alice@zulip.test", full_name: "Alice" };
const botUser = { id: 5, email: "totp-bot@zulip.test", full_name: "TOTP Bot" };
const bob = { id: 11, email: "bob@zulip.test", full_name: "Bob" };

function dm(content: string, participants = [alice, botUser], sender = alice): Incoming {
  const message: ZulipMessage = {
    id: 100,
    type: "private",
    sender_id: sender.id,
    sender_email: sender.email,
    sender_full_name: sender.full_name,
    content,
    display_recipient: participants,
  };
  return { message, mentioned: false };
}

function inStream(content: string, stream: string, mentioned: boolean): Incoming {
  const message: ZulipMessage = {
    id: 101,
    type: "stream",
    sender_id: alice.id,
    sender_email: alice.email,
    sender_full_name: alice.full_name,
    content,
    display_recipient: stream,
    subject: "t",
  };
  return { message, mentioned };
}

describe("which Zulip messages the bot answers, for whom, and how", () => {
  it("answers a one-to-one direct message privately, as zulip:<sender id>", () => {
    expect(routeMessage(dm("code github"), bot, {})).toEqual({
      kind: "answer",
      ctx: { platform: "zulip", userId: "10", origin: "private", answersPrivately: false },
      text: "code github",
    });
  });

  it("ignores its own messages", () => {
    expect(routeMessage(dm("hi", [alice, botUser], botUser), bot, {})).toEqual({ kind: "ignore", why: "own message" });
  });

  it("answers a stream message only when it mentions the bot, by direct message, the mention removed", () => {
    expect(routeMessage(inStream("code github", "ops", false), bot, {})).toEqual({
      kind: "ignore",
      why: "not mentioned",
    });
    expect(routeMessage(inStream("@**TOTP Bot** code github", "ops", true), bot, {})).toEqual({
      kind: "answer",
      ctx: { platform: "zulip", userId: "10", origin: "public", answersPrivately: true },
      text: "code github",
    });
  });

  it("treats a group direct message as public: others read it", () => {
    const route = routeMessage(dm("list", [alice, botUser, bob]), bot, {});
    expect(route).toMatchObject({ kind: "answer", ctx: { origin: "public", answersPrivately: true } });
  });

  it("answers mentions only in the configured streams, except to tell about a seed posted anywhere", () => {
    const streams = new Set(["ops"]);
    expect(routeMessage(inStream("@**TOTP Bot** list", "OPS", true), bot, { streams })).toMatchObject({
      kind: "answer",
    });
    expect(routeMessage(inStream("@**TOTP Bot** list", "random", true), bot, { streams })).toEqual({
      kind: "ignore",
      why: "stream not served",
    });
    const seed = "@**TOTP Bot** add x JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    expect(routeMessage(inStream(seed, "random", true), bot, { streams })).toMatchObject({
      kind: "answer",
      ctx: { origin: "public" },
    });
  });

  it("refuses senders the allowlist does not name, by id or email (any case)", () => {
    const byId = { ids: new Set([10]), emails: new Set<string>() };
    const byEmail = { ids: new Set<number>(), emails: new Set(["alice@zulip.test"]) };
    const other = { ids: new Set([99]), emails: new Set(["carol@zulip.test"]) };
    expect(routeMessage(dm("list"), bot, { allowedSenders: byId }).kind).toBe("answer");
    expect(routeMessage(dm("list"), bot, { allowedSenders: byEmail }).kind).toBe("answer");
    expect(routeMessage(dm("list"), bot, { allowedSenders: other })).toMatchObject({
      kind: "refuse",
      ctx: { userId: "10" },
    });
  });

  it("recognises the mention forms Zulip writes, and not a silent one", () => {
    expect(withoutMention("@**TOTP Bot|5** code a", bot)).toBe("code a");
    expect(withoutMention("@**Other name|5** code a", bot)).toBe("code a");
    expect(withoutMention("@_**TOTP Bot** code a", bot)).toBe("code a");
    expect(mentionsBot("hey @**TOTP Bot** list", bot)).toBe(true);
    expect(mentionsBot("hey @_**TOTP Bot** list", bot)).toBe(false);
    expect(mentionsBot("hey @**TOTP Bottle** list", bot)).toBe(false);
  });
});
