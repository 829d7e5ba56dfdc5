import { type RedisServer, startRedis } from "@totp-custody/testkit";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TotpError } from "../src/errors.js";
import { RateLimits } from "../src/ops/RateLimits.js";
import { leaseSizeOf, SharedRateLimits } from "../src/ops/SharedRateLimits.js";
import { RedisLink } from "../src/redis/RedisLink.js";

const silent = pino({ level: "silent" });

describe("rate limits shared through Redis", () => {
  let redis: RedisServer;
  let admin: Redis;
  const links: RedisLink[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const link of links) link.close();
    admin?.disconnect();
    await redis?.stop();
  });

  /** One replica's limits: its own connection to the shared Redis, a codes-per-label limit of `perMinute`. */
  async function replica(perMinute: number): Promise<SharedRateLimits> {
    const link = await RedisLink.connect(
      {
        url: redis.url,
        address: `127.0.0.1:${redis.port}`,
        tls: false,
        password: undefined,
        caPem: undefined,
        timeoutMs: 1000,
      },
      silent,
    );
    links.push(link);
    const policy = { codesPerLabelPerMinute: perMinute, requestsPerMinute: 1_000_000 };
    return new SharedRateLimits(link, policy, {
      fallback: new RateLimits(policy),
      onFallback: () => {
        throw new Error("counted per process: Redis was meant to be up");
      },
    });
  }

  /**
   * Asks each replica in turn for codes of one label until every one of them refuses (or twice the limit was
   * granted: then the limit is not held); how many were granted.
   */
  async function grantedRoundRobin(replicas: SharedRateLimits[], label: string, perMinute: number): Promise<number> {
    let granted = 0;
    const refused = new Set<SharedRateLimits>();
    for (let i = 0; refused.size < replicas.length && granted <= 2 * perMinute; i++) {
      const limits = replicas[i % replicas.length] as SharedRateLimits;
      if (refused.has(limits)) continue;
      try {
        await limits.check("code", "service:deployer", label);
        granted++;
      } catch (err) {
        expect(err).toBeInstanceOf(TotpError);
        expect((err as TotpError).code).toBe("RESOURCE_EXHAUSTED");
        refused.add(limits);
      }
    }
    return granted;
  }

  const evalCalls = async (): Promise<number> => {
    const stats = await admin.info("commandstats");
    return (
      Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0) +
      Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0)
    );
  };

  it("counts a low limit call by call: two replicas give exactly the limit between them", async () => {
    expect(leaseSizeOf(150)).toBe(1);
    const replicas = [await replica(150), await replica(150)];
    expect(await grantedRoundRobin(replicas, "low", 150)).toBe(150);
  });

  it("draws a high limit in leases of 1 %: the replicas never exceed it, and Redis sees one draw per lease", async () => {
    const perMinute = 2_000;
    expect(leaseSizeOf(perMinute)).toBe(20);
    const replicas = [await replica(perMinute), await replica(perMinute), await replica(perMinute)];
    const before = await evalCalls();
    const granted = await grantedRoundRobin(replicas, "high", perMinute);
    // What the others still held when the last replica found the limit spent is all that goes unused.
    expect(granted).toBeLessThanOrEqual(perMinute);
    expect(granted).toBeGreaterThan(perMinute - 3 * 20);
    // The principal's limit (a million a minute: leases of 10,000) draws about once per replica.
    expect(await evalCalls()).toBeLessThan(before + perMinute / 20 + 3 * 3);
  });

  it("makes calls that find a lease empty wait for one draw instead of each drawing", async () => {
    const limits = await replica(10_000);
    const before = await evalCalls();
    await Promise.all(Array.from({ length: 50 }, () => limits.check("code", "service:deployer", "burst")));
    // One draw for the principal's limit, one for the label's: 50 calls, a lease of 100 each.
    expect((await evalCalls()) - before).toBe(2);
  });
});
