import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PersistentVault, startVault, type Vault } from "../src/index.js";

interface KvRead {
  data: { data: Record<string, string> };
}

describe("startVault persistent", () => {
  let vault: Vault & PersistentVault;
  beforeAll(async () => {
    vault = await startVault({ persistent: true });
  });
  afterAll(async () => {
    await vault?.stop();
  });

  it("is a real initialized server, not dev mode: no secret/ mount", async () => {
    const health = await vault.request<{ initialized: boolean; sealed: boolean }>("GET", "sys/health");
    expect(health).toMatchObject({ initialized: true, sealed: false });
    const mounts = await vault.request<{ data: Record<string, unknown> }>("GET", "sys/mounts");
    expect(Object.keys(mounts.data)).not.toContain("secret/");
  });

  it("keeps its data across a restart on the same port", async () => {
    await vault.enableKv("kv");
    await vault.request("POST", "kv/data/kept", { data: { seed: "s1" } });
    const addr = vault.addr;
    const token = vault.token;
    await vault.restart();
    expect(vault.addr).toBe(addr);
    expect(vault.token).toBe(token);
    expect((await vault.request<KvRead>("GET", "kv/data/kept")).data.data).toEqual({ seed: "s1" });
  });

  it("refuses requests while sealed and serves again once unsealed", async () => {
    await vault.seal();
    await expect(vault.request("GET", "kv/data/kept")).rejects.toMatchObject({ status: 503 });
    await vault.unseal();
    expect((await vault.request<KvRead>("GET", "kv/data/kept")).data.data).toEqual({ seed: "s1" });
  });
});
