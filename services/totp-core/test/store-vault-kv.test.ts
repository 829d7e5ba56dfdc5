import { type AuditedVault, startVault, type Vault } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeWindow } from "../src/otp/codeWindow.js";
import { createSeedStore, type SeedStoreOptions } from "../src/store/createSeedStore.js";
import type { SeedStore } from "../src/store/SeedStore.js";
import { VaultFailure } from "../src/vault/VaultFailure.js";
import { rejection } from "./rejection.js";
import { newPrincipal, newSeed, personal, storeContract } from "./store-contract.js";

let vault: Vault & AuditedVault;
beforeAll(async () => {
  vault = await startVault({ auditLog: true });
});
afterAll(async () => {
  await vault?.stop();
});

const kvOptions = (v: Vault) =>
  ({
    kind: "vault-kv",
    vault: { addr: v.addr, timeoutMs: 5000, auth: { method: "token", token: v.token } },
  }) satisfies SeedStoreOptions;

storeContract("vault-kv (OpenBao)", () => createSeedStore(kvOptions(vault)), { currentCodeOnly: false, steam: true });

describe("Vault KV store", () => {
  let store: SeedStore;
  beforeAll(async () => {
    store = await createSeedStore(kvOptions(vault));
  });
  afterAll(async () => {
    await store?.close();
  });

  it("writes one secret per label with the record's fields, and keeps versions when a label is removed", async () => {
    const principal = newPrincipal();
    const ref = personal("github", principal);
    const seed = newSeed({ issuer: "GitHub", account: "octo" });
    await store.put(ref, seed, principal, false);
    const id = principal.split(":")[1];
    const path = `secret/data/totp/users/telegram/${id}/github`;
    const stored = await vault.request<{ data: { data: Record<string, unknown> } }>("GET", path);
    expect(stored.data.data).toEqual({
      secret: seed.secret.toString("base64"),
      algorithm: "SHA1",
      digits: 6,
      period: 30,
      encoding: "numeric",
      issuer: "GitHub",
      account: "octo",
      createdAt: expect.any(String),
      registeredBy: principal,
    });

    expect(await store.remove(ref)).toBe(true);
    const metadata = await vault.request<{ data: { current_version: number; versions: Record<string, unknown> } }>(
      "GET",
      `secret/metadata/totp/users/telegram/${id}/github`,
    );
    expect(metadata.data.current_version).toBe(1);
    expect(metadata.data.versions["1"]).toMatchObject({ destroyed: false, deletion_time: expect.any(String) });
    // Recoverable by an operator: undelete brings the label back.
    await vault.request("POST", `secret/undelete/totp/users/telegram/${id}/github`, { versions: [1] });
    expect((await store.info(ref))?.account).toBe("octo");
  });

  it("puts shared labels under <prefix>/shared, and honours another mount and prefix", async () => {
    await vault.enableKv("kv2");
    const other = await createSeedStore({ ...kvOptions(vault), kvMount: "kv2", prefix: "teams/ops" });
    const ref = { label: "aws-root", owner: { shared: true as const } };
    await other.put(ref, newSeed(), "service:admin", false);
    const stored = await vault.request<{ data: { data: { registeredBy: string } } }>(
      "GET",
      "kv2/data/teams/ops/shared/aws-root",
    );
    expect(stored.data.data.registeredBy).toBe("service:admin");
    await other.close();
  });

  it("answers 1000 concurrent cold codes() calls with exactly 1 Vault read (counted in OpenBao's audit log)", async () => {
    const principal = newPrincipal();
    const ref = personal("cold", principal);
    const seed = newSeed();
    const writer = await createSeedStore(kvOptions(vault));
    await writer.put(ref, seed, principal, false);
    await writer.close();
    const path = `secret/data/totp/users/telegram/${principal.split(":")[1]}/cold`;
    const reads = () => vault.countRequests((e) => e.request?.path === path && e.request.operation === "read");
    const readsBefore = await reads();

    const cold = await createSeedStore(kvOptions(vault), { cacheTtlMs: 10_000 });
    const at = Date.now();
    const answers = await Promise.all(Array.from({ length: 1000 }, () => cold.codes(ref, at)));
    expect(new Set(answers.map((a) => a?.window.code))).toEqual(new Set([codeWindow(seed, at).code]));
    expect((await reads()) - readsBefore).toBe(1);
    await cold.close();
  });

  it("describes each label in its secret's custom metadata, and pages without reading a seed", async () => {
    const principal = newPrincipal();
    const id = principal.split(":")[1];
    const owner = { shared: false as const, principal };
    await store.put(personal("described", principal), newSeed({ issuer: "GitHub", account: "octo" }), principal, false);
    const metadata = await vault.request<{ data: { custom_metadata: Record<string, string> } }>(
      "GET",
      `secret/metadata/totp/users/telegram/${id}/described`,
    );
    expect(metadata.data.custom_metadata).toEqual({
      algorithm: "SHA1",
      digits: "6",
      period: "30",
      encoding: "numeric",
      issuer: "GitHub",
      account: "octo",
      createdAt: expect.any(String),
      registeredBy: principal,
      describesVersion: "1",
    });
    const seedReads = () =>
      vault.countRequests(
        (e) => e.request?.operation === "read" && e.request.path === `secret/data/totp/users/telegram/${id}/described`,
      );
    const before = await seedReads();
    const page = await store.page(owner, { after: "", limit: 10 });
    expect(page.labels).toEqual([expect.objectContaining({ label: "described", issuer: "GitHub", account: "octo" })]);
    expect((await seedReads()) - before).toBe(0);
  });

  it("lists labels of the earlier layout, without custom metadata, and labels whose custom metadata is stale", async () => {
    const principal = newPrincipal();
    const id = principal.split(":")[1];
    const owner = { shared: false as const, principal };
    const oldRecord = (issuer: string) => ({
      secret: newSeed().secret.toString("base64"),
      algorithm: "SHA256",
      digits: 8,
      period: 60,
      encoding: "numeric",
      issuer,
      account: "legacy@example.com",
      createdAt: "2025-01-02T03:04:05.000Z",
      registeredBy: principal,
    });
    // As a totp-core before custom metadata wrote it: the secret alone.
    await vault.request("POST", `secret/data/totp/users/telegram/${id}/legacy`, { data: oldRecord("Old") });
    await store.put(personal("modern", principal), newSeed({ issuer: "Modern" }), principal, false);
    const listed = await store.page(owner, { after: "", limit: 10 });
    expect(listed.labels.map((m) => [m.label, m.issuer, m.algorithm, m.digits, m.period, m.createdAt])).toEqual([
      ["legacy", "Old", "SHA256", 8, 60, new Date("2025-01-02T03:04:05.000Z")],
      ["modern", "Modern", "SHA1", 6, 30, expect.any(Date)],
    ]);
    // Described on the way: the next page reads no secret of the earlier layout.
    const seedReads = () =>
      vault.countRequests(
        (e) => e.request?.operation === "read" && e.request.path === `secret/data/totp/users/telegram/${id}/legacy`,
      );
    const readsBefore = await seedReads();
    expect((await store.page(owner, { after: "", limit: 1 })).labels.map((m) => m.issuer)).toEqual(["Old"]);
    expect((await seedReads()) - readsBefore).toBe(0);
    // A newer version written past this store (another writer whose metadata write failed): its data wins.
    await vault.request("POST", `secret/data/totp/users/telegram/${id}/modern`, { data: oldRecord("Rewritten") });
    expect((await store.page(owner, { after: "legacy", limit: 10 })).labels.map((m) => m.issuer)).toEqual([
      "Rewritten",
    ]);
  });

  it("reports a malformed secret as INTERNAL without its content", async () => {
    const principal = newPrincipal();
    const ref = personal("broken", principal);
    const secretText = "not-base64-!!";
    await vault.request("POST", `secret/data/totp/users/telegram/${principal.split(":")[1]}/broken`, {
      data: { secret: secretText, algorithm: "MD5" },
    });
    const err = await rejection(store.codes(ref, Date.now()));
    expect(err.code).toBe("INTERNAL");
    expect(String((err.cause as Error).message)).not.toContain(secretText);
  });
});

describe("Vault KV store while Vault is down, sealed or restarted", () => {
  it("answers UNAVAILABLE without Vault's words when Vault is stopped", async () => {
    const lone = await startVault();
    const store = await createSeedStore(kvOptions(lone));
    const ref = personal("x");
    await store.put(ref, newSeed(), "telegram:1", false);
    await lone.stop();
    // Each call's rejection is taken as it is made: awaiting them one by one would leave the later ones unhandled.
    const refused = [store.codes(ref, Date.now()), store.put(personal("y"), newSeed(), "t", false), store.ping()].map(
      (call) => rejection(call),
    );
    for (const err of await Promise.all(refused)) {
      expect(err.code).toBe("UNAVAILABLE");
      expect(err.message).toBe("seed store unavailable");
      expect(err.cause).toBeInstanceOf(VaultFailure);
      expect((err.cause as VaultFailure).errno).toBe("ECONNREFUSED");
    }
    await store.close();
  });

  it("is UNAVAILABLE while sealed and serves again after unseal and after a restart, without a new store", async () => {
    const durable = await startVault({ persistent: true });
    try {
      await durable.enableKv("secret");
      const store = await createSeedStore(kvOptions(durable), { cacheTtlMs: 0 });
      const ref = personal("durable");
      const seed = newSeed();
      await store.put(ref, seed, "telegram:1", false);

      await durable.seal();
      const sealed = await rejection(store.codes(ref, Date.now()));
      expect(sealed.code).toBe("UNAVAILABLE");
      expect(sealed.message).toBe("seed store unavailable");
      expect((sealed.cause as VaultFailure).status).toBe(503);
      expect((await rejection(store.ping())).code).toBe("UNAVAILABLE");

      await durable.unseal();
      await store.ping();
      let at = Date.now();
      expect((await store.codes(ref, at))?.window.code).toBe(codeWindow(seed, at).code);

      await durable.restart();
      await store.ping();
      at = Date.now();
      expect((await store.codes(ref, at))?.window.code).toBe(codeWindow(seed, at).code);
      await store.close();
    } finally {
      await durable.stop();
    }
  });
});
