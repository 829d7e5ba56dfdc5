import type { ChatReply } from "@totp-custody/chat";
import { pauseMs, untilCoreAnswers } from "@totp-custody/chat";
import { TelegramError } from "telegraf";
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
});

describe("untilCoreAnswers", () => {
  const unavailable: ChatReply = { paragraphs: [[{ kind: "text", text: "down" }]], coreUnavailable: true };
  const answered: ChatReply = { paragraphs: [[{ kind: "text", text: "Removed x." }]] };

  it("runs the answer again while the core is unreachable, with growing pauses", async () => {
    let clock = 0;
    const pauses: number[] = [];
    let runs = 0;
    const reply = await untilCoreAnswers(async () => (++runs < 4 ? unavailable : answered), {
      now: () => clock,
      wait: async (ms) => {
        pauses.push(ms);
        clock += ms;
      },
    });
    expect(reply).toBe(answered);
    expect(pauses).toEqual([500, 1000, 2000]);
    expect(pauseMs(10)).toBe(5000);
  });

  it("gives the unavailable reply once the budget is spent, or at shutdown", async () => {
    let clock = 0;
    let runs = 0;
    const reply = await untilCoreAnswers(
      async () => {
        runs++;
        return unavailable;
      },
      {
        budgetMs: 10_000,
        now: () => clock,
        wait: async (ms) => {
          clock += ms;
        },
      },
    );
    expect(reply).toBe(unavailable);
    expect(clock).toBeLessThanOrEqual(10_000);
    expect(runs).toBeGreaterThan(2);

    const stopping = new AbortController();
    stopping.abort();
    let stoppedRuns = 0;
    await untilCoreAnswers(
      async () => {
        stoppedRuns++;
        return unavailable;
      },
      { signal: stopping.signal },
    );
    expect(stoppedRuns).toBe(1);
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
