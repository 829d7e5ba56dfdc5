import { GenerateCodeResponse, status, TotpClientError } from "@totp-custody/client";
import { describe, expect, it } from "vitest";
import { watchCode } from "../src/watchCode.js";

/** A terminal stand-in that keeps what watchCode writes; watchCode uses only write() and columns. */
function screen() {
  let text = "";
  const out = {
    columns: 80,
    write(chunk: string) {
      text += chunk;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { out, text: () => text };
}

/** An answer whose code is valid for the next `seconds`, on the local clock (the server's clock in production). */
function answer(code: string, seconds: number): GenerateCodeResponse {
  const now = Date.now();
  return GenerateCodeResponse.fromPartial({
    code,
    nextCode: "",
    digits: 6,
    period: seconds,
    validFrom: new Date(now),
    validUntil: new Date(now + seconds * 1000),
    serverTime: new Date(now),
  });
}

describe("watchCode", () => {
  it("waits as the core's rate limit says and goes on, instead of ending the display", async () => {
    const { out, text } = screen();
    const stop = new AbortController();
    const calls: string[] = [];
    const fetchCode = async () => {
      calls.push(calls.length === 0 ? "limited" : "answered");
      if (calls.length === 1) {
        throw new TotpClientError(status.RESOURCE_EXHAUSTED, "rate limit exceeded for label ticker", 1200);
      }
      // The display has what it needs once a code is on screen: end it as Ctrl-C would.
      setTimeout(() => stop.abort(), 50);
      return answer("123456", 30);
    };
    await watchCode(fetchCode, "ticker", out, stop.signal);
    expect(calls).toEqual(["limited", "answered"]);
    const shown = text();
    const notice = shown.indexOf("rate limited by totp-core; asking again in 2s");
    expect(notice).toBeGreaterThan(-1);
    expect(shown.indexOf("123456", notice)).toBeGreaterThan(notice);
    // The cursor comes back and the prompt gets a line of its own, as after any display.
    expect(shown.endsWith("\n\x1b[?25h")).toBe(true);
  });

  it("ends with the error for anything but a rate limit", async () => {
    const { out } = screen();
    const refused = new TotpClientError(status.NOT_FOUND, "label ticker not found");
    await expect(watchCode(() => Promise.reject(refused), "ticker", out, new AbortController().signal)).rejects.toBe(
      refused,
    );
  });
});
