import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { LabelMeta } from "../src/seed.js";
import { collectPage, DESCRIBE_IN_FLIGHT, type NameSource } from "../src/store/labelPage.js";

const metaOf = (label: string): LabelMeta => ({
  label,
  owner: "telegram:1",
  shared: false,
  createdAt: new Date(0),
  algorithm: "SHA1",
  digits: 6,
  period: 30,
  encoding: "numeric",
  issuer: "",
  account: "",
});

/** A describe() that answers after a pause, counting calls and the most in flight at once. */
function describer(deleted: ReadonlySet<string> = new Set()) {
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const describe = async (label: string) => {
    stats.calls++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    await sleep(1);
    stats.inFlight--;
    return deleted.has(label) ? undefined : metaOf(label);
  };
  return { stats, describe };
}

const names = Array.from({ length: 1000 }, (_, i) => `n${String(i).padStart(4, "0")}`);

/** Every name at each call, never complete: HashiCorp Vault, which ignores LIST's after and limit. */
const unpaged =
  (all: readonly string[], calls = { count: 0 }): NameSource =>
  async () => {
    calls.count++;
    return { names: [...all], complete: false };
  };
/** The names after `after`, `limit` at most, in order: OpenBao's paginated LIST. */
const paged =
  (all: readonly string[], calls = { count: 0 }): NameSource =>
  async (after, limit) => {
    calls.count++;
    const window = [...all]
      .sort()
      .filter((n) => n > after)
      .slice(0, limit);
    return { names: window, complete: window.length < limit };
  };

describe("collectPage", () => {
  it("describes the page and one label more, a bounded number at a time, whatever the owner holds", async () => {
    const { stats, describe } = describer();
    const page = await collectPage(unpaged([...names].reverse()), { after: "", limit: 100 }, describe);
    expect(page.labels.map((m) => m.label)).toEqual(names.slice(0, 100));
    expect(page.more).toBe(true);
    expect(stats.calls).toBe(101);
    expect(stats.maxInFlight).toBe(DESCRIBE_IN_FLIGHT);
  });

  it("skips labels deleted since they were named, names that are no labels, and names left out", async () => {
    const deleted = new Set(names.slice(10, 20));
    const { stats, describe } = describer(deleted);
    const page = await collectPage(unpaged([...names, "Not-A-Label", "a/b"]), { after: "n0005", limit: 10 }, describe);
    expect(page.labels.map((m) => m.label)).toEqual([...names.slice(6, 10), ...names.slice(20, 26)]);
    expect(stats.calls).toBe(4 + 10 + 7);
    const even = await collectPage(
      paged(names),
      { after: "", limit: 3, include: (n) => Number(n.slice(1)) % 2 === 0 },
      describe,
    );
    expect(even.labels.map((m) => m.label)).toEqual(["n0000", "n0002", "n0004"]);
  });

  it("answers the last page without more, and a limit of 0 only says whether more follow", async () => {
    const { describe } = describer(new Set(["n0999"]));
    expect(await collectPage(paged(names), { after: "n0997", limit: 5 }, describe)).toEqual({
      labels: [metaOf("n0998")],
      more: false,
    });
    expect(await collectPage(paged(names), { after: "n0997", limit: 0 }, describe)).toEqual({ labels: [], more: true });
    expect(await collectPage(unpaged(names), { after: "n0998", limit: 0 }, describe)).toEqual({
      labels: [],
      more: false,
    });
  });

  it("lists window after window past a run of deleted labels, and ends on a backend that ignores the window", async () => {
    const deleted = new Set(names.slice(0, 250));
    const lists = { count: 0 };
    const { stats, describe } = describer(deleted);
    const page = await collectPage(paged(names, lists), { after: "", limit: 5 }, describe);
    expect(page).toEqual({ labels: names.slice(250, 255).map(metaOf), more: true });
    expect(lists.count).toBe(3);
    expect(stats.calls).toBe(256);
    const again = { count: 0 };
    const last = await collectPage(unpaged(names, again), { after: "n0990", limit: 20 }, describer().describe);
    expect(last).toEqual({ labels: names.slice(991).map((n) => metaOf(n)), more: false });
    expect(again.count).toBe(2);
  });
});
