import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditedVault, startVault, type Vault } from "../src/index.js";

describe("startVault with an audit log", () => {
  let vault: Vault & AuditedVault;
  beforeAll(async () => {
    vault = await startVault({ auditLog: true });
  });
  afterAll(async () => {
    await vault?.stop();
  });

  it("counts the requests that reached the server", async () => {
    const isRead = (path: string) => (entry: { request?: { path?: string; operation?: string } }) =>
      entry.request?.path === path && entry.request.operation === "read";
    expect(await vault.countRequests(isRead("secret/data/audited"))).toBe(0);
    await vault.request("POST", "secret/data/audited", { data: { v: "1" } });
    await vault.request("GET", "secret/data/audited");
    await vault.request("GET", "secret/data/audited");
    expect(await vault.countRequests(isRead("secret/data/audited"))).toBe(2);
    expect(await vault.countRequests((entry) => entry.request?.path === "secret/data/audited")).toBe(3);
  });
});
