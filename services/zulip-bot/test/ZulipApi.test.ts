import { startZulipServer, type ZulipServer, type ZulipUser } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectZulip, type ZulipApi, ZulipApiError } from "../src/ZulipApi.js";

describe("the bot's Zulip client over the real zulip-js", () => {
  let zulip: ZulipServer;
  let bot: ZulipUser;
  let alice: ZulipUser;
  let api: ZulipApi;
  const waits: number[] = [];
  beforeAll(async () => {
    zulip = await startZulipServer();
    bot = zulip.addBot({ fullName: "TOTP Bot" });
    alice = zulip.addUser({ fullName: "Alice Doe" });
    api = await connectZulip(
      { realm: zulip.url, email: bot.email, apiKey: bot.apiKey },
      { onRateLimited: (_what, waitMs) => waits.push(waitMs) },
    );
  });
  afterAll(() => zulip?.close());

  it("turns an error body into a ZulipApiError with Zulip's code, where zulip-js returns it", async () => {
    const err = await api.edit(999_999, "x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZulipApiError);
    expect(err).toMatchObject({ code: "BAD_REQUEST", message: "Invalid message(s)" });
    const wrongKey = await connectZulip({ realm: zulip.url, email: bot.email, apiKey: "wrong" });
    await expect(wrongKey.me()).rejects.toMatchObject({ code: expect.stringMatching(/UNAUTHORIZED|INVALID_API_KEY/) });
  });

  it("waits the body's retry-after on a 429 and makes the call again, once applied", async () => {
    waits.length = 0;
    zulip.rateLimitNext(2, { retryAfterSeconds: 0.2, user: bot });
    const id = await api.sendDirect(alice.id, "hello");
    expect(waits).toEqual([200, 200]);
    expect(zulip.messagesSeenBy(alice, { with: bot }).filter((m) => m.id === id)).toHaveLength(1);
    expect(zulip.messages.filter((m) => m.content === "hello")).toHaveLength(1);
  });

  it("gives up after five waits and reports the rate limit", async () => {
    waits.length = 0;
    zulip.rateLimitNext(6, { retryAfterSeconds: 0.1, user: bot });
    await expect(api.me()).rejects.toMatchObject({ code: "RATE_LIMIT_HIT", retryAfterMs: 100 });
    expect(waits).toHaveLength(5);
  });

  it("reads back direct messages and mentions after an id, oldest first, without the rest of a stream", async () => {
    const start = zulip.sendDm(alice, bot, "first");
    zulip.sendStream(alice, "general", "t", "not for the bot");
    const mention = zulip.sendStream(alice, "general", "t", "hi", { mention: bot });
    const direct = zulip.sendDm(alice, bot, "second");
    const read = await api.messagesAfter(start);
    expect(read.map((m) => m.id)).toEqual([mention, direct]);
    expect(read[0]?.flags).toContain("mentioned");
  });
});
