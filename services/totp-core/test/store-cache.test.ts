import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../src/ops/Metrics.js";
import { codeWindow } from "../src/otp/codeWindow.js";
import type { LabelRef, SeedRecord } from "../src/seed.js";
import { createSeedStore } from "../src/store/createSeedStore.js";
import { FileStore } from "../src/store/FileStore.js";
import { recordSeedStore } from "../src/store/recordSeedStore.js";
import type { SeedRecords } from "../src/store/SeedRecords.js";
import { type CacheOutcome, SingleFlightCache } from "../src/store/SingleFlightCache.js";
import { newSeed, personal } from "./store-contract.js";

/** A deferred value, to hold a load open while other lookups arrive. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("SingleFlightCache", () => {
  it("makes one load for concurrent misses, then answers from memory, and counts each kind", async () => {
    const outcomes: CacheOutcome[] = [];
    const cache = new SingleFlightCache<string>({ ttlMs: 1000, onLookup: (o) => outcomes.push(o) });
    let loads = 0;
    const gate = deferred<string>();
    const load = () => {
      loads++;
      return gate.promise;
    };
    const waiting = Array.from({ length: 50 }, () => cache.get("k", load));
    gate.resolve("v");
    expect(await Promise.all(waiting)).toEqual(Array(50).fill("v"));
    expect(await cache.get("k", load)).toBe("v");
    expect(loads).toBe(1);
    expect(outcomes.filter((o) => o === "miss")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "coalesced")).toHaveLength(49);
    expect(outcomes.filter((o) => o === "hit")).toHaveLength(1);
    cache.clear();
  });

  it("forgets a value after its TTL, and keeps nothing with TTL 0 while still merging concurrent loads", async () => {
    const short = new SingleFlightCache<number>({ ttlMs: 30 });
    let loads = 0;
    const load = async () => ++loads;
    expect(await short.get("k", load)).toBe(1);
    expect(await short.get("k", load)).toBe(1);
    await sleep(60);
    expect(await short.get("k", load)).toBe(2);

    const none = new SingleFlightCache<number>({ ttlMs: 0 });
    let slowLoads = 0;
    const slow = async () => {
      slowLoads++;
      await sleep(10);
      return slowLoads;
    };
    expect(await Promise.all([none.get("k", slow), none.get("k", slow)])).toEqual([1, 1]);
    expect(await none.get("k", slow)).toBe(2);
    short.clear();
  });

  it("shortens an entry's life with maxAgeMs", async () => {
    const cache = new SingleFlightCache<number>({ ttlMs: 10_000 });
    let loads = 0;
    const load = async () => ++loads;
    await cache.get("k", load, { maxAgeMs: () => 20 });
    await sleep(50);
    expect(await cache.get("k", load, { maxAgeMs: () => 20 })).toBe(2);
    cache.clear();
  });

  it("does not keep absent values or failures", async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 1000 });
    let loads = 0;
    const answer = (value: string | undefined) => async () => {
      loads++;
      return value;
    };
    expect(await cache.get("k", answer(undefined))).toBeUndefined();
    expect(await cache.get("k", answer(undefined))).toBeUndefined();
    await expect(
      cache.get("k", async () => {
        loads++;
        throw new Error("down");
      }),
    ).rejects.toThrow("down");
    expect(await cache.get("k", answer("v"))).toBe("v");
    expect(loads).toBe(4);
    cache.clear();
  });

  it("does not store what a load read when the key was invalidated meanwhile (a write raced it)", async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 1000 });
    const gate = deferred<string>();
    const stale = cache.get("k", () => gate.promise);
    cache.invalidate("k");
    gate.resolve("old");
    expect(await stale).toBe("old");
    expect(await cache.get("k", async () => "new")).toBe("new");
    cache.clear();
  });

  it("asks isCurrent once the entry is older than the freshness interval, one check for concurrent lookups", async () => {
    const outcomes: CacheOutcome[] = [];
    const cache = new SingleFlightCache<string>({ ttlMs: 10_000, freshnessMs: 30, onLookup: (o) => outcomes.push(o) });
    let version = 1;
    let loads = 0;
    let checks = 0;
    const load = async () => {
      loads++;
      return `v${version}`;
    };
    const gate = deferred<void>();
    const isCurrent = async (value: string) => {
      checks++;
      await gate.promise;
      return value === `v${version}`;
    };
    expect(await cache.get("k", load, { isCurrent })).toBe("v1");
    // Younger than the interval: no question asked.
    expect(await cache.get("k", load, { isCurrent })).toBe("v1");
    await sleep(40);
    const during = [cache.get("k", load, { isCurrent }), cache.get("k", load, { isCurrent })];
    gate.resolve();
    expect(await Promise.all(during)).toEqual(["v1", "v1"]);
    expect(checks).toBe(1);
    // Found current, it is vouched for another interval.
    expect(await cache.get("k", load, { isCurrent })).toBe("v1");
    expect(outcomes).toEqual(["miss", "hit", "checked", "coalesced", "hit"]);

    // Changed in the store (another replica wrote): the next lookup after the interval reads the new value.
    version = 2;
    await sleep(40);
    expect(await cache.get("k", load, { isCurrent })).toBe("v2");
    expect([loads, checks]).toEqual([2, 2]);
    cache.clear();
  });

  it("drops an entry whose check fails, and fails the lookup instead of answering what nobody vouched for", async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 10_000, freshnessMs: 0 });
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get("k", load)).toBe("v1");
    await expect(
      cache.get("k", load, {
        isCurrent: async () => {
          throw new Error("vault down");
        },
      }),
    ).rejects.toThrow("vault down");
    // Gone: the next lookup loads again.
    expect(await cache.get("k", load)).toBe("v2");
    cache.clear();
  });

  it("keeps a checked entry no longer than the TTL of the read that brought it", async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 80, freshnessMs: 0 });
    let loads = 0;
    const load = async () => `v${++loads}`;
    const isCurrent = async () => true;
    await cache.get("k", load, { isCurrent });
    for (let i = 0; i < 3; i++) {
      await sleep(20);
      expect(await cache.get("k", load, { isCurrent })).toBe("v1");
    }
    await sleep(60);
    expect(await cache.get("k", load, { isCurrent })).toBe("v2");
    cache.clear();
  });

  it("publishes each invalidation on its channel and drops what the channel delivers", async () => {
    const published: string[] = [];
    let deliver: (key: string) => void = () => {};
    const cache = new SingleFlightCache<string>({
      ttlMs: 10_000,
      channel: { publish: (key) => published.push(key), subscribe: (drop) => (deliver = drop) },
    });
    let loads = 0;
    const load = async () => `v${++loads}`;
    await cache.get("a", load);
    await cache.get("b", load);
    cache.invalidate("a");
    expect(published).toEqual(["a"]);
    // Another replica's write of b: dropped here without being published again.
    deliver("b");
    expect(published).toEqual(["a"]);
    expect([await cache.get("a", load), await cache.get("b", load)]).toEqual(["v3", "v4"]);
    cache.clear();
  });

  it("refuses a TTL above 30 s", () => {
    expect(() => new SingleFlightCache({ ttlMs: 30_001 })).toThrow(RangeError);
    expect(() => new SingleFlightCache({ ttlMs: -1 })).toThrow(RangeError);
  });
});

/** The file store with each read counted: the backend half of recordSeedStore, as the KV store's is. */
class CountingRecords implements SeedRecords {
  reads = 0;
  readonly kind: string;
  constructor(private readonly inner: SeedRecords) {
    this.kind = inner.kind;
  }
  async read(ref: LabelRef) {
    this.reads++;
    // A backend answers later than at once: keeps the 1000 lookups concurrent with the read.
    await sleep(5);
    return this.inner.read(ref);
  }
  write = (ref: LabelRef, record: SeedRecord, overwrite: boolean) => this.inner.write(ref, record, overwrite);
  remove = (ref: LabelRef) => this.inner.remove(ref);
  labels = (owner: LabelRef["owner"], after: string, limit: number) => this.inner.labels(owner, after, limit);
  describe = (ref: LabelRef) => this.inner.describe(ref);
  ping = () => this.inner.ping();
  close = () => this.inner.close();
}

describe("seed cache in front of a record store", () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "totp-cache-"));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  const open = async (ttlMs: number) => {
    const records = new CountingRecords(
      await FileStore.open(join(folder, `${ttlMs}-${Date.now()}.enc`), randomBytes(32)),
    );
    const outcomes: CacheOutcome[] = [];
    return { records, outcomes, store: recordSeedStore(records, { ttlMs, onLookup: (o) => outcomes.push(o) }) };
  };

  it("answers 1000 concurrent cold codes() calls for one label with exactly 1 store read", async () => {
    const { records, outcomes, store } = await open(10_000);
    const ref = personal("cold");
    const seed = newSeed();
    await store.put(ref, seed, "telegram:1", false);
    const at = Date.now();
    const answers = await Promise.all(Array.from({ length: 1000 }, () => store.codes(ref, at)));
    expect(records.reads).toBe(1);
    expect(new Set(answers.map((a) => a?.window.code))).toEqual(new Set([codeWindow(seed, at).code]));
    expect(outcomes.filter((o) => o === "miss")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "coalesced")).toHaveLength(999);
    // Warm: no read at all.
    await store.codes(ref, Date.now());
    await store.info(ref);
    expect(records.reads).toBe(1);
    await store.close();
  });

  it("reads again after put and remove, so a changed seed shows at once", async () => {
    const { records, store } = await open(10_000);
    const ref = personal("changing");
    await store.put(ref, newSeed(), "telegram:1", false);
    await store.codes(ref, Date.now());
    const second = newSeed();
    await store.put(ref, second, "telegram:1", true);
    const at = Date.now();
    expect((await store.codes(ref, at))?.window.code).toBe(codeWindow(second, at).code);
    expect(records.reads).toBe(2);
    await store.remove(ref);
    expect(await store.codes(ref, Date.now())).toBeUndefined();
    expect(records.reads).toBe(3);
    await store.close();
  });

  it("reads every time with TTL 0, yet still merges concurrent misses", async () => {
    const { records, store } = await open(0);
    const ref = personal("uncached");
    await store.put(ref, newSeed(), "telegram:1", false);
    await Promise.all(Array.from({ length: 100 }, () => store.codes(ref, Date.now())));
    expect(records.reads).toBe(1);
    await store.codes(ref, Date.now());
    expect(records.reads).toBe(2);
    await store.close();
  });

  it("reports cache lookups and store operations to the service's metrics", async () => {
    const metrics = new Metrics();
    const store = await createSeedStore(
      { kind: "file", path: join(folder, `metrics-${Date.now()}.enc`), key: randomBytes(32) },
      { metrics, cacheTtlMs: 10_000 },
    );
    const ref = personal("counted");
    await store.put(ref, newSeed(), "telegram:1", false);
    await Promise.all([store.codes(ref, Date.now()), store.codes(ref, Date.now())]);
    await store.codes(ref, Date.now());
    const text = await metrics.registry.metrics();
    expect(text).toContain('totp_seed_cache_total{result="miss"} 1');
    expect(text).toContain('totp_seed_cache_total{result="coalesced"} 1');
    expect(text).toContain('totp_seed_cache_total{result="hit"} 1');
    // Three codes, one read below the cache.
    expect(text).toContain('totp_store_duration_seconds_count{store="file",op="read"} 1');
    expect(text).toContain('totp_store_duration_seconds_count{store="file",op="write"} 1');
    await store.close();
  });

  it("counts a failed store operation as an error of that operation", async () => {
    const metrics = new Metrics();
    const dir = await mkdtemp(join(folder, "vanishing-"));
    const store = await createSeedStore(
      { kind: "file", path: join(dir, "seeds.enc"), key: randomBytes(32) },
      { metrics },
    );
    // The file is rewritten through a temporary file beside it: without its folder, the write fails.
    await rm(dir, { recursive: true });
    await expect(store.put(personal("lost"), newSeed(), "telegram:1", false)).rejects.toThrow();
    expect(await metrics.registry.metrics()).toContain('totp_store_errors_total{store="file",op="write"} 1');
    await store.close();
  });
});
