import { describe, expect, it } from "vitest";
import { TotpError } from "../src/errors.js";
import { RateLimiter } from "../src/ops/RateLimiter.js";
import { DEFAULT_RATE_LIMITS, type RateLimitName, RateLimits } from "../src/ops/RateLimits.js";

/** A clock that only moves when told. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

/** The TotpError a call throws, or undefined when it passes. */
function refusal(call: () => void): TotpError | undefined {
  try {
    call();
    return undefined;
  } catch (err) {
    if (err instanceof TotpError) return err;
    throw err;
  }
}

describe("RateLimiter", () => {
  it("allows a full bucket, then refuses with the wait until the next token", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ capacity: 10, refillPerMinute: 10, now: clock.now });
    for (let i = 0; i < 10; i++) limiter.take("k");
    const err = refusal(() => limiter.take("k"));
    expect(err?.code).toBe("RESOURCE_EXHAUSTED");
    expect(err?.retryAfterMs).toBe(6000);
    expect(err?.message).toBe("rate limit: try again in 6 s");
  });

  it("refills with time, at the configured rate and no further than the capacity", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ capacity: 2, refillPerMinute: 60, now: clock.now });
    limiter.take("k");
    limiter.take("k");
    clock.advance(400);
    expect(refusal(() => limiter.take("k"))?.retryAfterMs).toBe(600);
    clock.advance(600);
    limiter.take("k");
    expect(refusal(() => limiter.take("k"))).toBeInstanceOf(TotpError);
    clock.advance(3_600_000);
    limiter.take("k");
    limiter.take("k");
    expect(refusal(() => limiter.take("k"))?.retryAfterMs).toBe(1000);
  });

  it("rounds the message up to whole seconds and a refusal spends nothing", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ capacity: 1, refillPerMinute: 1, now: clock.now });
    limiter.take("k");
    clock.advance(59_500);
    const err = refusal(() => limiter.take("k"));
    expect(err?.retryAfterMs).toBe(500);
    expect(err?.message).toBe("rate limit: try again in 1 s");
    clock.advance(500);
    limiter.take("k");
  });

  it("keeps keys independent", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ capacity: 1, refillPerMinute: 1, now: clock.now });
    limiter.take("a");
    expect(refusal(() => limiter.take("a"))).toBeDefined();
    limiter.take("b");
  });

  it("does not drain a bucket when the clock steps back", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ capacity: 2, refillPerMinute: 2, now: clock.now });
    limiter.take("k");
    clock.advance(-10_000);
    limiter.take("k");
  });

  it("forgets full buckets once per refill period", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ capacity: 5, refillPerMinute: 5, now: clock.now });
    for (let i = 0; i < 1000; i++) limiter.take(`idle-${i}`);
    limiter.take("busy");
    for (let i = 0; i < 4; i++) limiter.take("busy");
    expect(limiter.size).toBe(1001);
    clock.advance(59_000);
    for (let i = 0; i < 4; i++) limiter.take("busy");
    clock.advance(1_000);
    limiter.take("new");
    // The idle buckets are full again and gone; "busy" is not (one token back since its last take) and stays.
    expect(limiter.size).toBe(2);
    limiter.take("busy");
    expect(refusal(() => limiter.take("busy"))).toBeDefined();
  });

  it("never holds more than maxKeys, however many keys arrive", () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ capacity: 1, refillPerMinute: 1, now: clock.now, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) {
      limiter.take(`k-${i}`);
      expect(limiter.size).toBeLessThanOrEqual(100);
    }
    // The most recent keys are the ones kept.
    expect(refusal(() => limiter.take("k-9999"))).toBeDefined();
  });

  it("refuses a configuration that cannot work", () => {
    expect(() => new RateLimiter({ capacity: 0, refillPerMinute: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ capacity: 1, refillPerMinute: 0 })).toThrow(RangeError);
    expect(() => new RateLimiter({ capacity: Number.NaN, refillPerMinute: 1 })).toThrow(RangeError);
  });
});

describe("RateLimits", () => {
  it("defaults to 60 requests per principal and 10 codes per label per minute", () => {
    expect(DEFAULT_RATE_LIMITS).toMatchObject({ requestsPerMinute: 60, codesPerLabelPerMinute: 10 });
    const clock = fakeClock();
    const limits = new RateLimits({}, { now: clock.now });
    for (let i = 0; i < 10; i++) limits.check("code", "alice", "github");
    const err = refusal(() => limits.check("code", "alice", "github"));
    expect(err).toMatchObject({ code: "RESOURCE_EXHAUSTED", retryAfterMs: 6000 });
    // Another label and another principal are untouched.
    limits.check("code", "alice", "gitlab");
    limits.check("code", "bob", "github");
    // Alice has spent 12 of her 60 requests (the refused one counts); 48 more pass.
    for (let i = 0; i < 48; i++) limits.check("read", "alice");
    expect(refusal(() => limits.check("read", "alice"))?.retryAfterMs).toBe(1000);
  });

  it("gives writes and deletes their own per-principal limits", () => {
    const clock = fakeClock();
    const limits = new RateLimits({ writesPerMinute: 2, deletesPerMinute: 1 }, { now: clock.now });
    limits.check("write", "alice");
    limits.check("write", "alice");
    expect(refusal(() => limits.check("write", "alice"))?.retryAfterMs).toBe(30_000);
    limits.check("delete", "alice");
    expect(refusal(() => limits.check("delete", "alice"))?.retryAfterMs).toBe(60_000);
    limits.check("read", "alice");
    limits.check("write", "bob");
    clock.advance(30_000);
    limits.check("write", "alice");
  });

  it("counts an import as one request and each entry it stores as one write, not as a request", () => {
    const limits = new RateLimits({ requestsPerMinute: 3, writesPerMinute: 3 }, { now: fakeClock().now });
    limits.check("import", "alice");
    for (let i = 0; i < 3; i++) limits.check("entry", "alice");
    expect(refusal(() => limits.check("entry", "alice"))?.retryAfterMs).toBe(20_000);
    // The entries spent the writes (a RegisterSeed is refused) but no requests: of 3, the import and that
    // refused RegisterSeed spent 2, so one more call passes and the next is refused.
    expect(refusal(() => limits.check("write", "alice"))?.retryAfterMs).toBe(20_000);
    limits.check("read", "alice");
    expect(refusal(() => limits.check("read", "alice"))?.code).toBe("RESOURCE_EXHAUSTED");
  });

  it("keeps (principal, label) keys apart even when the strings run together", () => {
    const limits = new RateLimits({ codesPerLabelPerMinute: 1 }, { now: fakeClock().now });
    limits.check("code", "ab", "c");
    limits.check("code", "a", "bc");
  });

  it("reports which limit refused", () => {
    const refused: RateLimitName[] = [];
    const limits = new RateLimits(
      { requestsPerMinute: 3, codesPerLabelPerMinute: 1, writesPerMinute: 1 },
      { now: fakeClock().now, onRefused: (limit) => refused.push(limit) },
    );
    limits.check("code", "alice", "x");
    refusal(() => limits.check("code", "alice", "x"));
    limits.check("write", "alice");
    refusal(() => limits.check("read", "alice"));
    expect(refused).toEqual(["label", "principal"]);
  });

  it("keeps defaults for settings passed as undefined", () => {
    const limits = new RateLimits({ requestsPerMinute: undefined }, { now: fakeClock().now });
    for (let i = 0; i < 60; i++) limits.check("read", "alice");
    expect(refusal(() => limits.check("read", "alice"))).toBeDefined();
  });
});
