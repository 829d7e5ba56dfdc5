import { randomBytes, randomInt } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TotpError } from "../src/errors.js";
import { codeWindow } from "../src/otp/codeWindow.js";
import type { LabelMeta, LabelRef, Owner, SeedInput } from "../src/seed.js";
import type { SeedStore } from "../src/store/SeedStore.js";
import { rejection } from "./rejection.js";

/** What a store can do beyond the common contract. */
export interface StoreTraits {
  /** Codes come from the backend's clock and only for the current step (the Vault TOTP engine). */
  currentCodeOnly: boolean;
  /** Steam Guard codes can be stored and served. */
  steam: boolean;
}

export const newSeed = (overrides: Partial<SeedInput> = {}): SeedInput => ({
  // A fresh random seed each time: no seed is ever written into the test sources.
  secret: randomBytes(20),
  algorithm: "SHA1",
  digits: 6,
  period: 30,
  encoding: "numeric",
  issuer: "Example",
  account: "someone@example.com",
  ...overrides,
});

/** A principal no other test uses, so tests can share one store (and one Vault) without seeing each other. */
export const newPrincipal = (platform = "telegram"): string => `${platform}:${randomInt(1, 2 ** 47)}`;
export const personal = (label: string, principal = newPrincipal()): LabelRef => ({
  label,
  owner: { shared: false, principal },
});
/** Shared labels are one namespace per store: tests make their names unique. */
export const shared = (label: string): LabelRef => ({
  label: `${label}-${randomBytes(4).toString("hex")}`,
  owner: { shared: true },
});

/**
 * The codes a store answers for `seed`, checked against the OTP engine at the same time step. A store that reads
 * the backend's clock reports the step it used in validFrom; that step is what the engine is asked about.
 */
async function expectCodesOf(store: SeedStore, ref: LabelRef, seed: SeedInput, traits: StoreTraits): Promise<void> {
  const at = Date.now();
  const found = await store.codes(ref, at);
  expect(found).toBeDefined();
  const window = found?.window;
  if (!window) return;
  const stepStart = traits.currentCodeOnly ? window.validFrom.getTime() : at;
  const expected = codeWindow(seed, stepStart);
  expect(window.code).toBe(expected.code);
  expect(window.nextCode).toBe(traits.currentCodeOnly ? "" : expected.nextCode);
  expect(window.validFrom).toEqual(expected.validFrom);
  expect(window.validUntil).toEqual(expected.validUntil);
  // The step answered holds the moment asked, or (engine's clock) one just after it.
  expect(window.validUntil.getTime()).toBeGreaterThan(at);
  expect(window.validFrom.getTime()).toBeLessThanOrEqual(Date.now());
}

/** Every live label of `owner`, through pages of `pageSize`. */
export async function listAll(store: SeedStore, owner: Owner, pageSize = 1000): Promise<LabelMeta[]> {
  const all: LabelMeta[] = [];
  for (let after = ""; ; ) {
    const page = await store.page(owner, { after, limit: pageSize });
    all.push(...page.labels);
    if (!page.more) return all;
    after = page.labels.at(-1)?.label ?? after;
  }
}

/**
 * The SeedStore contract, the same for every store. `open` gives a store for the whole suite; `close` is called
 * once after it.
 */
export function storeContract(name: string, open: () => Promise<SeedStore>, traits: StoreTraits): void {
  describe(`SeedStore contract: ${name}`, () => {
    let store: SeedStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });

    it("stores a seed, answers its metadata and codes, and lists it", async () => {
      const principal = newPrincipal();
      const ref = personal("github", principal);
      const seed = newSeed({ issuer: "GitHub", account: "octo" });
      const before = Date.now();
      const meta = await store.put(ref, seed, principal, false);
      expect(meta).toMatchObject({
        label: "github",
        owner: principal,
        shared: false,
        algorithm: "SHA1",
        digits: 6,
        period: 30,
        encoding: "numeric",
        issuer: "GitHub",
        account: "octo",
      });
      expect(meta.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(await store.info(ref)).toEqual(meta);
      await expectCodesOf(store, ref, seed, traits);
      const found = await store.codes(ref, Date.now());
      expect(found?.meta).toEqual(meta);
      expect(await listAll(store, ref.owner)).toEqual([meta]);
    });

    it("answers undefined or false for a label that does not exist", async () => {
      const ref = personal("nothing-here");
      expect(await store.codes(ref, Date.now())).toBeUndefined();
      expect(await store.info(ref)).toBeUndefined();
      expect(await store.remove(ref)).toBe(false);
      expect(await listAll(store, ref.owner)).toEqual([]);
    });

    it("refuses a second registration with ALREADY_EXISTS and keeps the first seed", async () => {
      const ref = personal("bank");
      const first = newSeed();
      await store.put(ref, first, "telegram:1", false);
      const err = await rejection(store.put(ref, newSeed(), "telegram:1", false));
      expect(err.code).toBe("ALREADY_EXISTS");
      expect(err.message).toBe("label bank already exists");
      await expectCodesOf(store, ref, first, traits);
    });

    it("replaces a seed and its parameters with overwrite", async () => {
      const ref = personal("mail");
      await store.put(ref, newSeed(), "telegram:1", false);
      const second = newSeed({ algorithm: "SHA256", digits: 8, period: 60, issuer: "Mail", account: "me" });
      const meta = await store.put(ref, second, "telegram:1", true);
      expect(meta).toMatchObject({ algorithm: "SHA256", digits: 8, period: 60, issuer: "Mail", account: "me" });
      expect(await store.info(ref)).toEqual(meta);
      await expectCodesOf(store, ref, second, traits);
    });

    it("creates with overwrite when the label is new", async () => {
      const ref = personal("fresh");
      const seed = newSeed({ algorithm: "SHA512" });
      await store.put(ref, seed, "telegram:1", true);
      await expectCodesOf(store, ref, seed, traits);
    });

    it("keeps the personal labels of two owners apart", async () => {
      const alice = personal("aws");
      const bob = personal("aws");
      const aliceSeed = newSeed({ account: "alice" });
      const bobSeed = newSeed({ account: "bob" });
      await store.put(alice, aliceSeed, "telegram:1", false);
      await store.put(bob, bobSeed, "telegram:1", false);
      await expectCodesOf(store, alice, aliceSeed, traits);
      await expectCodesOf(store, bob, bobSeed, traits);
      expect((await listAll(store, alice.owner)).map((m) => m.account)).toEqual(["alice"]);
      expect(await store.remove(bob)).toBe(true);
      await expectCodesOf(store, alice, aliceSeed, traits);
      expect(await store.info(bob)).toBeUndefined();
    });

    it("keeps a shared label apart from a personal label of the same name", async () => {
      const team = shared("deploy");
      const mine = personal(team.label);
      const teamSeed = newSeed({ account: "team" });
      const mySeed = newSeed({ account: "mine" });
      const teamMeta = await store.put(team, teamSeed, "service:admin", false);
      await store.put(mine, mySeed, "telegram:1", false);
      expect(teamMeta).toMatchObject({ shared: true, owner: "service:admin", account: "team" });
      await expectCodesOf(store, team, teamSeed, traits);
      await expectCodesOf(store, mine, mySeed, traits);
      const sharedLabels = await listAll(store, { shared: true });
      expect(sharedLabels).toContainEqual(teamMeta);
      expect(sharedLabels.every((m) => m.shared)).toBe(true);
      expect((await listAll(store, mine.owner)).map((m) => [m.label, m.shared, m.account])).toEqual([
        [team.label, false, "mine"],
      ]);
    });

    it("lists an owner's labels sorted by label, and nobody else's", async () => {
      const principal = newPrincipal("zulip");
      const labels = ["zeta", "alpha", "m.1", "m-2", "m_3", "a9", "dash-", "dot."];
      for (const label of labels) await store.put(personal(label, principal), newSeed(), principal, false);
      await store.put(personal("alpha"), newSeed(), "telegram:1", false);
      const listed = await listAll(store, { shared: false, principal });
      expect(listed.map((m) => m.label)).toEqual([...labels].sort());
      expect(listed.every((m) => m.owner === principal && !m.shared)).toBe(true);
    });

    it("pages an owner's labels after a label, and answers each label alive all along exactly once", async () => {
      const principal = newPrincipal();
      const owner: Owner = { shared: false, principal };
      const labels = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, "0")}`);
      for (const label of labels) await store.put({ label, owner }, newSeed({ account: label }), principal, false);
      const first = await store.page(owner, { after: "", limit: 4 });
      expect(first.labels.map((m) => m.label)).toEqual(labels.slice(0, 4));
      expect(first.labels.map((m) => m.account)).toEqual(labels.slice(0, 4));
      expect(first.more).toBe(true);
      // `after` need not exist, and a limit of 0 only tells whether anything follows.
      expect((await store.page(owner, { after: "k055", limit: 2 })).labels.map((m) => m.label)).toEqual(["k06", "k07"]);
      expect(await store.page(owner, { after: "k28", limit: 0 })).toEqual({ labels: [], more: true });
      expect(await store.page(owner, { after: "k29", limit: 5 })).toEqual({ labels: [], more: false });
      const odd = await store.page(owner, { after: "", limit: 3, include: (l) => Number(l.slice(1)) % 2 === 1 });
      expect(odd.labels.map((m) => m.label)).toEqual(["k01", "k03", "k05"]);

      const seen: string[] = [];
      const deleted = new Set<string>();
      for (let after = "", more = true; more; ) {
        const page = await store.page(owner, { after, limit: 3 });
        seen.push(...page.labels.map((m) => m.label));
        for (const m of page.labels.slice(0, 2)) {
          await store.remove({ label: m.label, owner });
          deleted.add(m.label);
        }
        more = page.more;
        after = page.labels.at(-1)?.label ?? after;
      }
      expect(seen).toEqual(labels);
      expect((await listAll(store, owner)).map((m) => m.label)).toEqual(labels.filter((l) => !deleted.has(l)));
    });

    it("removes a label, and the label can be registered again", async () => {
      const ref = personal("gone");
      await store.put(ref, newSeed(), "telegram:1", false);
      expect(await store.remove(ref)).toBe(true);
      expect(await store.codes(ref, Date.now())).toBeUndefined();
      expect(await store.info(ref)).toBeUndefined();
      expect(await listAll(store, ref.owner)).toEqual([]);
      expect(await store.remove(ref)).toBe(false);
      const again = newSeed();
      await store.put(ref, again, "telegram:1", false);
      await expectCodesOf(store, ref, again, traits);
      // And once more, now that an earlier version was deleted too.
      expect(await store.remove(ref)).toBe(true);
      const third = newSeed();
      await store.put(ref, third, "telegram:1", false);
      await expectCodesOf(store, ref, third, traits);
    });

    it("lets exactly one of 100 concurrent registrations of one label win", async () => {
      const ref = personal("race");
      const seeds = Array.from({ length: 100 }, (_, i) => newSeed({ account: `racer-${i}` }));
      const results = await Promise.allSettled(seeds.map((seed) => store.put(ref, seed, "telegram:1", false)));
      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(99);
      for (const r of lost) expect((r.reason as TotpError).code).toBe("ALREADY_EXISTS");
      const winner = seeds[won[0] as number] as SeedInput;
      expect((await store.info(ref))?.account).toBe(winner.account);
      await expectCodesOf(store, ref, winner, traits);
    });

    if (traits.steam) {
      it("serves Steam Guard codes", async () => {
        const ref = personal("steam");
        const seed = newSeed({ encoding: "steam", digits: 5 });
        await store.put(ref, seed, "telegram:1", false);
        await expectCodesOf(store, ref, seed, traits);
        expect((await store.codes(ref, Date.now()))?.window.code).toMatch(/^[23456789BCDFGHJKMNPQRTVWXY]{5}$/);
      });
    } else {
      it("refuses Steam Guard seeds with FAILED_PRECONDITION and stores nothing", async () => {
        const ref = personal("steam");
        const err = await rejection(store.put(ref, newSeed({ encoding: "steam", digits: 5 }), "telegram:1", false));
        expect(err.code).toBe("FAILED_PRECONDITION");
        expect(err.message).toMatch(/Steam codes need the kv or file store/);
        expect(await store.info(ref)).toBeUndefined();
      });
    }

    it("refuses a principal that could not be a storage path", async () => {
      const owner: Owner = { shared: false, principal: "telegram:../../shared" };
      const err = await rejection(store.put({ label: "x", owner }, newSeed(), "telegram:1", false));
      expect(err.code).toBe("INVALID_ARGUMENT");
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
