import { createServer } from "node:net";
import { freePort } from "@totp-custody/testkit";
import { Telegram, TelegramError } from "telegraf";
import { describe, expect, it } from "vitest";
import { CodeExpiry } from "../src/CodeExpiry.js";
import { retryDelayMs, withTelegramRetry } from "../src/withTelegramRetry.js";

const tooMany = (retryAfter: number) =>
  new TelegramError({
    error_code: 429,
    description: `Too Many Requests: retry after ${retryAfter}`,
    parameters: { retry_after: retryAfter },
  });
const badRequest = () =>
  new TelegramError({ error_code: 400, description: "Bad Request: message to delete not found" });

describe("withTelegramRetry", () => {
  it("waits out a 429 for its retry_after, then repeats the call", async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withTelegramRetry(
      async () => {
        calls++;
        if (calls < 3) throw tooMany(calls * 2);
        return "sent";
      },
      { wait: async (ms) => waits.push(ms) },
    );
    expect(result).toBe("sent");
    expect(waits).toEqual([2000, 4000]);
  });

  it("does not repeat a 400, nor wait longer than allowed, nor forever", async () => {
    const wait = async () => undefined;
    await expect(withTelegramRetry(() => Promise.reject(badRequest()), { wait })).rejects.toThrow(/not found/);
    await expect(withTelegramRetry(() => Promise.reject(tooMany(120)), { wait })).rejects.toThrow(/429/);
    let calls = 0;
    const always = () => {
      calls++;
      return Promise.reject(tooMany(1));
    };
    await expect(withTelegramRetry(always, { wait, maxAttempts: 3 })).rejects.toThrow(/429/);
    expect(calls).toBe(3);
  });

  it("backs off after a 5xx, and leaves other errors alone", () => {
    const unavailable = new TelegramError({ error_code: 502, description: "Bad Gateway" });
    expect(retryDelayMs(unavailable, 1)).toBe(500);
    expect(retryDelayMs(unavailable, 3)).toBe(2000);
    expect(retryDelayMs(new Error("socket hang up"), 1)).toBeUndefined();
  });

  it("backs off after telegraf's error for a refused connection, not after a cut one", async () => {
    const telegram = (port: number) => new Telegram("123:abc", { apiRoot: `http://127.0.0.1:${port}/` });
    const refused = await telegram(await freePort())
      .getMe()
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({ name: "FetchError", code: "ECONNREFUSED" });
    expect(retryDelayMs(refused, 1)).toBe(500);
    expect(retryDelayMs(refused, 2)).toBe(1000);
    // A server that takes the request and closes the connection: it may have acted on it.
    const cutting = createServer((socket) => socket.once("data", () => socket.destroy()));
    await new Promise<void>((resolve) => cutting.listen(0, "127.0.0.1", resolve));
    try {
      const cut = await telegram((cutting.address() as { port: number }).port)
        .getMe()
        .catch((err: unknown) => err);
      expect(cut).toMatchObject({ name: "FetchError", code: "ECONNRESET" });
      expect(retryDelayMs(cut, 1)).toBeUndefined();
    } finally {
      await new Promise((resolve) => cutting.close(resolve));
    }
  });
});

describe("CodeExpiry", () => {
  it("expires each message once at its time, a reschedule replacing the earlier timer", async () => {
    const expired: string[] = [];
    const expiry = new CodeExpiry(async (place, label) => {
      expired.push(`${place.messageId}:${label}`);
    });
    const soon = () => new Date(Date.now() + 20);
    expiry.schedule({ chatId: 1, messageId: 10 }, "a", new Date(Date.now() + 60_000));
    expiry.schedule({ chatId: 1, messageId: 10 }, "a", soon());
    expiry.schedule({ chatId: 1, messageId: 11 }, "b", soon());
    expiry.schedule({ chatId: 1, messageId: 12 }, "c", soon());
    expiry.cancel({ chatId: 1, messageId: 12 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(expired.sort()).toEqual(["10:a", "11:b"]);
    expect(expiry.size).toBe(0);
  });

  it("expires everything still pending at flush (shutdown)", async () => {
    const expired: number[] = [];
    const expiry = new CodeExpiry(async (place) => {
      expired.push(place.messageId);
    });
    expiry.schedule({ chatId: 1, messageId: 1 }, "a", new Date(Date.now() + 60_000));
    expiry.schedule({ chatId: 2, messageId: 2 }, "b", new Date(Date.now() + 60_000));
    await expiry.flush();
    expect(expired.sort()).toEqual([1, 2]);
    expect(expiry.size).toBe(0);
  });
});
