import type { GenerateCodeResponse } from "@totp-custody/client";
import { describe, expect, it } from "vitest";
import { BAR_WIDTH, codeAt, formatCountdown, formatDuration } from "../src/countdown.js";
import { controlCharactersIn } from "./controlCharactersIn.js";

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

function answer(overrides: Partial<GenerateCodeResponse> = {}): GenerateCodeResponse {
  return {
    code: "111111",
    nextCode: "222222",
    digits: 6,
    period: 30,
    validFrom: new Date(T0),
    validUntil: new Date(T0 + 30_000),
    serverTime: new Date(T0 + 5_000),
    issuer: "",
    account: "",
    ...overrides,
  };
}

describe("codeAt", () => {
  it("shows the current code with the seconds left, rounded up", () => {
    expect(codeAt(answer(), T0)).toEqual({ code: "111111", secondsLeft: 30, period: 30 });
    expect(codeAt(answer(), T0 + 12_300)).toEqual({ code: "111111", secondsLeft: 18, period: 30 });
    expect(codeAt(answer(), T0 + 29_999)).toEqual({ code: "111111", secondsLeft: 1, period: 30 });
  });

  it("rolls over to the next code for one more period, then asks for a new answer", () => {
    expect(codeAt(answer(), T0 + 30_000)).toEqual({ code: "222222", secondsLeft: 30, period: 30 });
    expect(codeAt(answer(), T0 + 59_001)).toEqual({ code: "222222", secondsLeft: 1, period: 30 });
    expect(codeAt(answer(), T0 + 60_000)).toBeUndefined();
  });

  it("asks again at the window's end when the next code is unknown (Vault TOTP engine mode)", () => {
    expect(codeAt(answer({ nextCode: "" }), T0 + 29_000)?.code).toBe("111111");
    expect(codeAt(answer({ nextCode: "" }), T0 + 30_000)).toBeUndefined();
  });

  it("reads a moment before the window as its start: an answer cannot come from the future", () => {
    expect(codeAt(answer(), T0 - 400)).toEqual({ code: "111111", secondsLeft: 30, period: 30 });
  });

  it("asks again when the answer has no window", () => {
    expect(codeAt(answer({ validFrom: undefined }), T0)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it.each([
    [1, "1s"],
    [59, "59s"],
    [60, "1m00s"],
    [245, "4m05s"],
    [3600, "1h00m"],
    [86_400, "24h00m"],
  ])("%i s is %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe("formatCountdown", () => {
  it("draws a bar that empties as the code's time runs out", () => {
    const full = formatCountdown({ code: "482913", secondsLeft: 30, period: 30 }, "github");
    expect(full).toBe(`482913  ${"█".repeat(BAR_WIDTH)}     30s  github`);
    const half = formatCountdown({ code: "482913", secondsLeft: 15, period: 30 }, "github");
    expect(half).toBe(`482913  ${"█".repeat(10)}${"░".repeat(10)}     15s  github`);
    const last = formatCountdown({ code: "482913", secondsLeft: 1, period: 30 }, "github");
    expect(last).toContain(`${"█".repeat(1)}${"░".repeat(19)}`);
  });

  it("keeps the line's width whatever the seconds, so redrawing leaves no stray characters", () => {
    const widths = [1, 9, 59, 600, 86_400].map(
      (s) => formatCountdown({ code: "12345678", secondsLeft: s, period: 86_400 }, "x").length,
    );
    expect(new Set(widths).size).toBe(1);
  });

  it("fits a narrow terminal, since a wrapped line cannot be redrawn in place", () => {
    const view = { code: "482913", secondsLeft: 9, period: 30 };
    expect(formatCountdown(view, "a-rather-long-label-for-a-narrow-terminal", 40)).toHaveLength(39);
    expect(formatCountdown(view, "x", 3)).toBe("482913");
    expect(formatCountdown(view, "x", 200)).toBe(formatCountdown(view, "x"));
    expect(formatCountdown(view, "x", 0)).toBe(formatCountdown(view, "x"));
  });

  it("holds no control character: the terminal codes are the caller's", () => {
    const line = formatCountdown({ code: "2B4CD", secondsLeft: 3, period: 30 }, "steam");
    expect(controlCharactersIn(line)).toEqual([]);
  });
});
