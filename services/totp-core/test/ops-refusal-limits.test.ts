import { describe, expect, it } from "vitest";
import { OTHER_CLIENTS, RefusalLimits } from "../src/ops/RefusalLimits.js";

describe("RefusalLimits", () => {
  it("gives each client its own budget of audited refusals, and counts the rest for a summary", () => {
    let now = 0;
    const limits = new RefusalLimits({ perMinute: 3, now: () => now });
    const verdicts = Array.from({ length: 5 }, () => limits.admit("spiffe://x/abuser"));
    expect(verdicts.filter((v) => v.audit)).toHaveLength(3);
    // Over budget: the wait until one refusal (of 3 a minute) is back, 20 s.
    expect(verdicts[4]).toEqual({ audit: false, retryAfterMs: 20_000 });
    // Another client's budget is untouched by the abuser.
    expect(limits.admit("spiffe://x/other")).toEqual({ audit: true });
    expect(limits.takeSummaries()).toEqual([{ client: "spiffe://x/abuser", count: 2 }]);
    expect(limits.takeSummaries()).toEqual([]);
    now += 20_000;
    expect(limits.admit("spiffe://x/abuser")).toEqual({ audit: true });
  });

  it("keeps its counts bounded however many clients are over budget at once", () => {
    const limits = new RefusalLimits({ perMinute: 1, maxKeys: 2, now: () => 0 });
    for (const client of ["a", "b", "c", "d"]) {
      limits.admit(client);
      limits.admit(client);
    }
    const summaries = limits.takeSummaries();
    expect(summaries.length).toBeLessThanOrEqual(3);
    expect(summaries.reduce((sum, s) => sum + s.count, 0)).toBeGreaterThanOrEqual(2);
    expect(summaries.map((s) => s.client)).toContain(OTHER_CLIENTS);
  });
});
