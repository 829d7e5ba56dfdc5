import { connect, createServer, type Server, type Socket } from "node:net";
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

  /**
   * A TCP relay to the Zulip server that can cut the connection a request arrives on, before passing any of it:
   * what the bot sees when the connection breaks, while Zulip never got the request.
   */
  async function cuttingRelay(): Promise<{
    url: string;
    cutNext: (count: number) => void;
    close: () => Promise<void>;
  }> {
    const target = new URL(zulip.url);
    let cuts = 0;
    const sockets = new Set<Socket>();
    const relay: Server = createServer((downstream) => {
      sockets.add(downstream);
      const upstream = connect(Number(target.port), target.hostname);
      sockets.add(upstream);
      upstream.on("error", () => downstream.destroy());
      downstream.on("error", () => upstream.destroy());
      downstream.on("data", (chunk) => {
        if (cuts > 0) {
          cuts--;
          downstream.resetAndDestroy();
          upstream.destroy();
        } else upstream.write(chunk);
      });
      upstream.pipe(downstream);
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    const { port } = relay.address() as { port: number };
    return {
      url: `http://127.0.0.1:${port}`,
      cutNext: (count) => {
        cuts = count;
      },
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => relay.close(resolve));
      },
    };
  }

  it("makes a call again once Zulip takes connections again, and a send posts its message once", async () => {
    const unreachable: string[] = [];
    const patient = await connectZulip(
      { realm: zulip.url, email: bot.email, apiKey: bot.apiKey },
      { onUnreachable: (what, waitMs) => unreachable.push(`${what} ${waitMs}`) },
    );
    const down = zulip.refuseConnectionsFor(1200);
    const id = await patient.sendDirect(alice.id, "sent through a restart").finally(() => down);
    expect(unreachable).toEqual(["send 500", "send 1000"]);
    expect(zulip.messages.filter((m) => m.content === "sent through a restart").map((m) => m.id)).toEqual([id]);
  });

  it("makes an edit or a deletion again after a cut connection, but never a send that may have arrived", async () => {
    const relay = await cuttingRelay();
    try {
      const unreachable: string[] = [];
      const viaRelay = await connectZulip(
        { realm: relay.url, email: bot.email, apiKey: bot.apiKey },
        { onUnreachable: (what, waitMs) => unreachable.push(`${what} ${waitMs}`) },
      );
      const id = await viaRelay.sendDirect(alice.id, "before the cut");
      relay.cutNext(1);
      await viaRelay.edit(id, "edited after a cut");
      expect(zulip.messages.find((m) => m.id === id)?.content).toBe("edited after a cut");
      relay.cutNext(1);
      await viaRelay.delete(id);
      expect(zulip.messages.find((m) => m.id === id)?.deleted).toBe(true);
      // Deleting what is gone already (our own lost try, or the sender) counts as done.
      await viaRelay.delete(id);
      expect(unreachable).toEqual(["edit 500", "delete 500"]);
      relay.cutNext(1);
      await expect(viaRelay.sendDirect(alice.id, "cut")).rejects.toMatchObject({ name: "FetchError" });
      expect(unreachable).toHaveLength(2);
      expect(zulip.messages.filter((m) => m.content === "cut")).toHaveLength(0);
    } finally {
      await relay.close();
    }
  });

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
