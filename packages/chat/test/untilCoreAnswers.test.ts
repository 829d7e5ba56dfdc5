import { describe, expect, it } from "vitest";
import { type ChatReply, pauseMs, untilCoreAnswers } from "../src/index.js";

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
