import { TOTP } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess, startVault, toolPath, type Vault, VaultError } from "../src/index.js";

interface KvRead {
  data: { data: Record<string, string>; metadata: { version: number } };
}

describe("startVault (dev server)", () => {
  let vault: Vault;
  beforeAll(async () => {
    vault = await startVault();
  });
  afterAll(async () => {
    await vault?.stop();
  });

  it("answers on a loopback port with a random root token", async () => {
    expect(vault.addr).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const self = await vault.request<{ data: { policies: string[] } }>("GET", "auth/token/lookup-self");
    expect(self.data.policies).toEqual(["root"]);
  });

  it("writes and reads KV v2 at secret/, and the bao CLI sees the same data", async () => {
    const written = await vault.request<{ data: { version: number } }>("POST", "secret/data/app/one", {
      data: { answer: "42" },
    });
    expect(written.data.version).toBe(1);
    const read = await vault.request<KvRead>("GET", "secret/data/app/one");
    expect(read.data.data).toEqual({ answer: "42" });

    const cli = runProcess(toolPath("bao"), ["kv", "get", "-format=json", "-mount=secret", "app/one"], {
      env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token },
    });
    expect((await cli.exited).code).toBe(0);
    expect((JSON.parse(cli.stdout) as KvRead).data.data).toEqual({ answer: "42" });
  });

  it("mounts KV v2 elsewhere with its check-and-set semantics", async () => {
    await vault.enableKv("kv-test");
    await vault.request("POST", "kv-test/data/label", { data: { seed: "x" }, options: { cas: 0 } });
    const second = vault.request("POST", "kv-test/data/label", { data: { seed: "y" }, options: { cas: 0 } });
    await expect(second).rejects.toBeInstanceOf(VaultError);
    await expect(second).rejects.toMatchObject({ status: 400 });
    expect((await vault.request<KvRead>("GET", "kv-test/data/label")).data.data).toEqual({ seed: "x" });
  });

  it("throws VaultError with the status for a missing secret", async () => {
    await expect(vault.request("GET", "secret/data/missing")).rejects.toMatchObject({ status: 404 });
  });

  it("enables the TOTP engine, whose codes match RFC 6238", async () => {
    await vault.enableTotp();
    const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    await vault.request("POST", "totp/keys/demo", { generate: false, key: secret, issuer: "Test", account_name: "a" });
    const totp = new TOTP({ secret });
    const before = totp.generate();
    const { data } = await vault.request<{ data: { code: string } }>("GET", "totp/code/demo");
    // The code may roll over between the two readings; either side of that boundary is right.
    expect([before, totp.generate()]).toContain(data.code);
  });

  it("logs in with AppRole and gets a token limited to its policy", async () => {
    await vault.writePolicy("app-read", 'path "secret/data/app/*" { capabilities = ["read"] }');
    const { roleId, secretId } = await vault.enableAppRole({ role: "app", policies: ["app-read"], tokenTtl: "5m" });
    const login = await vault.request<{ auth: { client_token: string; policies: string[]; lease_duration: number } }>(
      "POST",
      "auth/approle/login",
      { role_id: roleId, secret_id: secretId },
      { token: "" },
    );
    expect(login.auth.policies).toContain("app-read");
    expect(login.auth.lease_duration).toBe(300);
    const token = login.auth.client_token;

    const read = await vault.request<KvRead>("GET", "secret/data/app/one", undefined, { token });
    expect(read.data.data).toEqual({ answer: "42" });
    await expect(
      vault.request("POST", "secret/data/app/one", { data: { answer: "0" } }, { token }),
    ).rejects.toMatchObject({ status: 403 });

    // A second role reuses the mounted auth method.
    await expect(vault.enableAppRole({ role: "other", policies: ["default"] })).resolves.toMatchObject({
      roleId: expect.any(String),
    });
  });
});

describe("startVault stop", () => {
  it("stops the server, and a second stop does no harm", async () => {
    const vault = await startVault();
    expect((await fetch(`${vault.addr}/v1/sys/health`)).status).toBe(200);
    await vault.stop();
    await expect(fetch(`${vault.addr}/v1/sys/health`)).rejects.toThrow();
    await vault.stop();
  });
});
