import { Telegraf } from "telegraf";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startTelegramServer, type TelegramServer } from "../src/index.js";

const running: { stop(): void }[] = [];
const servers: TelegramServer[] = [];

afterEach(async () => {
  for (const bot of running.splice(0)) {
    try {
      bot.stop();
    } catch {
      // a bot whose polling ended on its own (a 409) is no longer running
    }
  }
  for (const server of servers.splice(0)) await server.close();
});

async function server(options?: Parameters<typeof startTelegramServer>[0]): Promise<TelegramServer> {
  const started = await startTelegramServer(options);
  servers.push(started);
  return started;
}

function telegraf(tg: TelegramServer): Telegraf {
  return new Telegraf(tg.token, { telegram: { apiRoot: tg.apiRoot } });
}

/**
 * Launches polling and resolves once the first getUpdates arrived; `stopped` is launch's own promise, which
 * settles only when polling ends (telegraf#1749), hence wrapped.
 */
async function launchPolling(tg: TelegramServer, bot: Telegraf): Promise<{ stopped: Promise<void> }> {
  const stopped = bot.launch(() => {});
  running.push(bot);
  await eventually(() => tg.requests.some((request) => request.method === "getUpdates") || undefined, {
    what: "the first getUpdates",
  });
  return { stopped };
}

describe("startTelegramServer with the real telegraf, long polling", () => {
  it("runs telegraf's launch sequence, delivers a message and shows the reply as the user sees it", async () => {
    const tg = await server();
    const bot = telegraf(tg);
    bot.command("hello", (ctx) => ctx.reply(`hi ${ctx.from.first_name}`, { protect_content: true }));
    const { stopped } = await launchPolling(tg, bot);
    const alice = tg.createUser({ first_name: "Alice" });
    const sent = tg.sendText(alice, "/hello");
    const reply = await tg.waitFor(() => tg.chat(alice.id).find((message) => message.from === "bot"), {
      what: "the bot's reply",
    });
    expect(reply.text).toBe("hi Alice");
    expect(reply.protectContent).toBe(true);
    expect(tg.chat(alice.id)[0]).toMatchObject({ messageId: sent, from: "user", text: "/hello" });
    bot.stop();
    await stopped;
    const methods = tg.requests.map((request) => request.method);
    expect(methods.slice(0, 3)).toEqual(["getMe", "deleteWebhook", "getUpdates"]);
    expect(tg.requests[2]?.params).toEqual({ timeout: 50, offset: 0, allowed_updates: [] });
    // The stop sequence confirms the offset with limit 1 and no timeout, answered at once.
    const last = tg.requests.at(-1);
    expect(last).toMatchObject({ method: "getUpdates", status: 200 });
    expect(last?.params).toMatchObject({ limit: 1 });
    expect(last?.params.timeout).toBeUndefined();
    await tg.settled();
    expect(tg.specViolations).toEqual([]);
  });
});
