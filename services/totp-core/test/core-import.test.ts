import { status } from "@grpc/grpc-js";
import { expectedCode, migrationUri, newSecret, type RedisServer, startRedis } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, failure, startCoreFixture } from "./grpcHarness.js";

const WRITES_PER_PRINCIPAL = 3;

/** The code of `secret` now, or at the step before or after (a step may end between the call and the check). */
const codesAround = (secret: string) => {
  const now = Date.now();
  return [-30_000, 0, 30_000].map((d) => expectedCode(secret, now + d));
};

describe("ImportSeeds limits", () => {
  let fx: CoreFixture;
  beforeAll(async () => {
    fx = await startCoreFixture("file", { TOTP_RATE_WRITES_PER_PRINCIPAL: String(WRITES_PER_PRINCIPAL) });
  });
  afterAll(() => fx?.close());

  it("draws each stored entry on the write limit and refuses the entries beyond it with their index and the wait", async () => {
    const tg = fx.client("telegram-bot");
    const alice = "telegram:2001";
    const uri = migrationUri(Array.from({ length: 6 }, (_, i) => ({ secret: newSecret(), name: `n${i}` })));
    const result = await tg.importSeeds({ uri, onBehalfOf: alice });
    expect(result.imported.map((l) => l.label)).toEqual(["n0", "n1", "n2"]);
    expect(result.rejected.map((r) => r.index)).toEqual([3, 4, 5]);
    for (const [i, r] of result.rejected.entries()) {
      expect(r.reason).toMatch(new RegExp(`^n${i + 3}: rate limit: try again in \\d+ s$`));
      expect(Number(r.reason.match(/in (\d+) s/)?.[1])).toBeLessThanOrEqual(60 / WRITES_PER_PRINCIPAL);
    }
    // The import spent the principal's writes: RegisterSeed is refused too, and nothing more was stored.
    const err = await failure(tg.registerSeed({ label: "after", onBehalfOf: alice, otpauthUri: otpauth() }));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await tg.listLabels({ onBehalfOf: alice })).labels).toHaveLength(3);
    // An import that could store nothing is itself over the limit: one refusal with the wait, not an entry each.
    const again = await failure(tg.importSeeds({ uri, onBehalfOf: alice }));
    expect(again.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(again.retryAfterMs).toBeGreaterThan(0);
  });

  it("refuses an export of more than 100 entries whole, storing nothing", async () => {
    const tg = fx.client("telegram-bot");
    const bob = "telegram:2002";
    const entries = Array.from({ length: 101 }, (_, i) => ({ secret: newSecret().slice(0, 16), name: `${i}` }));
    const err = await failure(tg.importSeeds({ uri: migrationUri(entries), onBehalfOf: bob }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.message).toContain("the export holds 101 accounts; one import takes at most 100");
    expect((await tg.listLabels({ onBehalfOf: bob })).labels).toEqual([]);
  });

  it("refuses an entry whose label an earlier entry of the export has, keeping the earlier seed", async () => {
    const tg = fx.client("telegram-bot");
    const carol = "telegram:2003";
    const [first, second] = [newSecret(), newSecret()];
    // "a b" and "a-b" of one issuer both become the label "acme-a-b".
    const uri = migrationUri([
      { secret: first, name: "a b", issuer: "Acme" },
      { secret: second, name: "a-b", issuer: "Acme" },
    ]);
    const result = await tg.importSeeds({ uri, onBehalfOf: carol, overwrite: true });
    expect(result.imported.map((l) => l.label)).toEqual(["acme-a-b"]);
    expect(result.rejected).toEqual([
      { index: 1, name: "Acme:a-b", reason: "acme-a-b: entry 0 of this export maps to the same label" },
    ]);
    const { code } = await tg.generateCode({ label: "acme-a-b", onBehalfOf: carol });
    expect(codesAround(first)).toContain(code);
  });
});

describe("ImportSeeds limits shared through Redis", () => {
  let redis: RedisServer;
  let fx: CoreFixture;
  beforeAll(async () => {
    redis = await startRedis();
    fx = await startCoreFixture("file", {
      TOTP_RATE_WRITES_PER_PRINCIPAL: String(WRITES_PER_PRINCIPAL),
      TOTP_REDIS_URL: redis.url,
    });
  });
  afterAll(async () => {
    await fx?.close();
    await redis?.stop();
  });

  it("draws each stored entry on the shared write limit", async () => {
    const tg = fx.client("telegram-bot");
    const uri = migrationUri(Array.from({ length: 5 }, (_, i) => ({ secret: newSecret(), name: `r${i}` })));
    const result = await tg.importSeeds({ uri, onBehalfOf: "telegram:2004" });
    expect(result.imported.map((l) => l.label)).toEqual(["r0", "r1", "r2"]);
    expect(result.rejected.map((r) => [r.index, /^r\d: rate limit: try again in \d+ s$/.test(r.reason)])).toEqual([
      [3, true],
      [4, true],
    ]);
  });
});

const otpauth = () => `otpauth://totp/x?secret=${newSecret()}`;
