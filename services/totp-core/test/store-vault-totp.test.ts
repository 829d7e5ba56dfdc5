import { setTimeout as sleep } from "node:timers/promises";
import { type AuditedVault, startVault, type Vault } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeWindow } from "../src/otp/codeWindow.js";
import { createSeedStore, type SeedStoreOptions } from "../src/store/createSeedStore.js";
import type { SeedStore } from "../src/store/SeedStore.js";
import { rejection } from "./rejection.js";
import { newPrincipal, newSeed, personal, shared, storeContract } from "./store-contract.js";

let vault: Vault & AuditedVault;
beforeAll(async () => {
  vault = await startVault({ auditLog: true });
  await vault.enableTotp("totp");
});
afterAll(async () => {
  await vault?.stop();
});

const totpOptions = (token = vault.token): SeedStoreOptions => ({
  kind: "vault-totp",
  vault: { addr: vault.addr, timeoutMs: 5000, auth: { method: "token", token } },
});

storeContract("vault-totp (OpenBao TOTP engine)", () => createSeedStore(totpOptions()), {
  currentCodeOnly: true,
  steam: false,
});

describe("Vault TOTP store", () => {
  let store: SeedStore;
  beforeAll(async () => {
    store = await createSeedStore(totpOptions());
  });
  afterAll(async () => {
    await store?.close();
  });

  it("imports the seed into the engine under a reversible name, and keeps only metadata in KV", async () => {
    const principal = newPrincipal();
    const id = principal.split(":")[1];
    // Labels ending in '-' or '.' are valid labels but not valid engine names on their own.
    const refs = [personal("dash-", principal), personal("dot.", principal), shared("team")];
    for (const ref of refs) await store.put(ref, newSeed({ issuer: "Acme" }), principal, false);
    const keys = await vault.request<{ data: { keys: string[] } }>("LIST", "totp/keys");
    expect(keys.data.keys).toEqual(
      expect.arrayContaining([`dash-@${id}@telegram`, `dot.@${id}@telegram`, `${refs[2]?.label}@shared`]),
    );
    const key = await vault.request<{ data: Record<string, unknown> }>("GET", `totp/keys/dash-@${id}@telegram`);
    expect(key.data).toMatchObject({ issuer: "Acme", algorithm: "SHA1", digits: 6, period: 30 });
    const meta = await vault.request<{ data: { data: Record<string, unknown> } }>(
      "GET",
      `secret/data/totp/meta/users/telegram/${id}/dash-`,
    );
    expect(meta.data.data).not.toHaveProperty("secret");
    expect(meta.data.data).toMatchObject({ issuer: "Acme", registeredBy: principal });
  });

  it("serves codes equal to the OTP engine's for 8 digits, SHA-512 and a 1 s period", async () => {
    const ref = personal("fast");
    const seed = newSeed({ algorithm: "SHA512", digits: 8, period: 1 });
    await store.put(ref, seed, "telegram:1", false);
    for (let i = 0; i < 5; i++) {
      const found = await store.codes(ref, Date.now());
      const window = found?.window;
      expect(window?.code).toBe(codeWindow(seed, window?.validFrom.getTime() ?? 0).code);
      expect(window && window.validUntil.getTime() - window.validFrom.getTime()).toBe(1000);
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  });

  it("leaves one caller's key beside that caller's metadata after concurrent overwrites from several replicas", async () => {
    const ref = personal("contended");
    await store.put(ref, newSeed(), "telegram:1", false);
    // Replicas with clients of their own, so the writes of different callers reach Vault in any order.
    const replicas = await Promise.all(Array.from({ length: 4 }, () => createSeedStore(totpOptions())));
    // Different digits and periods: the engine's key of one writer beside the metadata of another shows in the codes.
    const seeds = Array.from({ length: 16 }, (_, i) =>
      newSeed({ digits: i % 2 ? 8 : 6, period: i % 3 ? 30 : 60, issuer: `writer-${i}` }),
    );
    await Promise.all(
      seeds.map(async (seed, i) => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
        await replicas[i % replicas.length]?.put(ref, seed, "telegram:1", true);
      }),
    );
    const stored = await store.info(ref);
    const winner = seeds.find((seed) => seed.issuer === stored?.issuer);
    expect(winner).toBeDefined();
    const found = await store.codes(ref, Date.now());
    const validFrom = found?.window.validFrom.getTime() ?? 0;
    expect(found?.window.code).toBe(winner && codeWindow(winner, validFrom).code);
    await Promise.all(replicas.map((replica) => replica.close()));
  });

  it("ends every race of an overwrite and a delete of one label with a label that serves codes or does not exist", async () => {
    const principal = newPrincipal();
    const id = principal.split(":")[1];
    // Two replicas, each with its own Vault client; a third, with a cold cache, looks at the outcome.
    const [writer, deleter, checker] = await Promise.all([0, 1, 2].map(() => createSeedStore(totpOptions())));
    const refs = Array.from({ length: 120 }, (_, i) => personal(`race-${i}`, principal));
    for (const ref of refs) await store.put(ref, newSeed(), principal, false);
    for (const [i, ref] of refs.entries()) {
      // The delete starts from 6 ms before to 6 ms after the overwrite, in steps of 0.5 ms.
      const offsetMs = ((i % 25) - 12) / 2;
      const startIn = (ms: number, run: () => Promise<unknown>) => sleep(Math.max(0, ms)).then(run);
      const outcomes = await Promise.allSettled([
        startIn(-offsetMs, () => writer?.put(ref, newSeed(), principal, true) ?? Promise.resolve()),
        startIn(offsetMs, () => deleter?.remove(ref) ?? Promise.resolve()),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled"]);
    }
    const keys = new Set((await vault.request<{ data: { keys: string[] } }>("LIST", "totp/keys")).data.keys);
    const states = await Promise.all(
      refs.map(async (ref) => {
        const exists = (await checker?.info(ref)) !== undefined;
        const serves = (await checker?.codes(ref, Date.now())) !== undefined;
        const keyKept = keys.has(`${ref.label}@${id}@telegram`);
        return exists === serves && serves === keyKept ? "consistent" : `${ref.label}: ${exists} ${serves} ${keyKept}`;
      }),
    );
    expect(states.filter((s) => s !== "consistent")).toEqual([]);
    await Promise.all([writer, deleter, checker].map((s) => s?.close()));
  });

  it("removes the engine's key with the label", async () => {
    const principal = newPrincipal();
    const ref = personal("bye", principal);
    await store.put(ref, newSeed(), principal, false);
    expect(await store.remove(ref)).toBe(true);
    const keys = await vault.request<{ data: { keys: string[] } }>("LIST", "totp/keys");
    expect(keys.data.keys).not.toContain(`bye@${principal.split(":")[1]}@telegram`);
  });

  it("rolls the metadata back when the engine refuses the key, so the label stays free", async () => {
    await vault.writePolicy(
      "meta-only",
      `path "secret/data/totp/*" { capabilities = ["create", "read", "update", "delete"] }
       path "secret/metadata/totp/*" { capabilities = ["read", "list"] }`,
    );
    const limited = await vault.request<{ auth: { client_token: string } }>("POST", "auth/token/create", {
      policies: ["meta-only"],
      ttl: "10m",
    });
    const denied = await createSeedStore(totpOptions(limited.auth.client_token));
    const ref = personal("half");
    const err = await rejection(denied.put(ref, newSeed(), "telegram:1", false));
    expect(err.code).toBe("UNAVAILABLE");
    expect(await store.info(ref)).toBeUndefined();
    await store.put(ref, newSeed(), "telegram:1", false);
    await denied.close();
  });

  it("answers 1000 concurrent cold codes() calls with 1 metadata read and 1 code read (OpenBao's audit log)", async () => {
    const principal = newPrincipal();
    const id = principal.split(":")[1];
    const ref = personal("cold", principal);
    const seed = newSeed({ period: 60 });
    await store.put(ref, seed, principal, false);
    const count = (path: string) => vault.countRequests((e) => e.request?.path === path);
    const metaPath = `secret/data/totp/meta/users/telegram/${id}/cold`;
    const codePath = `totp/code/cold@${id}@telegram`;
    const before = { meta: await count(metaPath), code: await count(codePath) };

    const cold = await createSeedStore(totpOptions(), { cacheTtlMs: 10_000 });
    const answers = await Promise.all(Array.from({ length: 1000 }, () => cold.codes(ref, Date.now())));
    const steps = new Set(answers.map((a) => a?.window.validFrom.getTime()));
    expect(steps.size).toBe(1);
    expect(new Set(answers.map((a) => a?.window.code))).toEqual(
      new Set([codeWindow(seed, answers[0]?.window.validFrom.getTime() ?? 0).code]),
    );
    expect((await count(metaPath)) - before.meta).toBe(1);
    expect((await count(codePath)) - before.code).toBe(1);
    await cold.close();
  });
});
