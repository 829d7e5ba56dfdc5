import { credentials } from "@grpc/grpc-js";
import { startVault, type Vault } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEALTH_INTERVAL_MS } from "../src/server.js";
import {
  announcedPorts,
  appRoleLogin,
  CORE_VAULT_POLICY,
  type CoreFixture,
  checkHealth,
  eventually,
  revokeRoleTokens,
  startCoreFixture,
} from "./grpcHarness.js";

/**
 * How soon NOT_SERVING must follow Vault's refusal: the next health check, at most one interval away, with a
 * second interval and a second of margin for a loaded machine.
 */
const NOT_SERVING_WITHIN_MS = 2 * HEALTH_INTERVAL_MS + 1000;

/** The plaintext probe port's answer, as the kubelet would get it. */
const probe = (fx: CoreFixture) =>
  checkHealth(`127.0.0.1:${announcedPorts(fx.core).health}`, credentials.createInsecure());

describe("health follows whether Vault takes our token", () => {
  let vault: Vault;
  const fixtures: CoreFixture[] = [];

  beforeAll(async () => {
    vault = await startVault();
  });
  afterAll(async () => {
    for (const fx of fixtures) await fx.close();
    await vault?.stop();
  });

  it("turns NOT_SERVING once the configured token is revoked (token auth)", async () => {
    await vault.writePolicy("totp-core", CORE_VAULT_POLICY);
    const created = await vault.request<{ auth: { client_token: string } }>("POST", "auth/token/create", {
      policies: ["totp-core"],
      ttl: "1h",
    });
    const fx = await startCoreFixture(
      "vault-kv",
      { TOTP_HEALTH_LISTEN: "127.0.0.1:0" },
      { vault, vaultAuth: { VAULT_TOKEN: created.auth.client_token } },
    );
    fixtures.push(fx);
    expect(await probe(fx)).toBe("SERVING");

    await vault.request("POST", "auth/token/revoke", { token: created.auth.client_token });
    const revoked = Date.now();
    await eventually(async () => (await probe(fx)) === "NOT_SERVING", "NOT_SERVING after the revocation");
    expect(Date.now() - revoked).toBeLessThanOrEqual(NOT_SERVING_WITHIN_MS);
    expect(fx.core.process.stdout).toMatch(/Vault denies this request to our token/);
  });

  it("with AppRole, is NOT_SERVING while no login works and SERVING again after the next successful one", async () => {
    const role = "totp-core-health";
    const auth = await appRoleLogin(vault, role, { tokenTtl: 3600 });
    const fx = await startCoreFixture("vault-kv", { TOTP_HEALTH_LISTEN: "127.0.0.1:0" }, { vault, vaultAuth: auth });
    fixtures.push(fx);
    expect(await probe(fx)).toBe("SERVING");

    // Logins from loopback refused, then the token revoked: the core cannot get a working token.
    await vault.request("POST", `auth/approle/role/${role}`, { secret_id_bound_cidrs: ["192.0.2.1/32"] });
    expect(await revokeRoleTokens(vault, role)).toBeGreaterThanOrEqual(1);
    const revoked = Date.now();
    await eventually(async () => (await probe(fx)) === "NOT_SERVING", "NOT_SERVING without a working token");
    expect(Date.now() - revoked).toBeLessThanOrEqual(NOT_SERVING_WITHIN_MS);

    await vault.request("POST", `auth/approle/role/${role}`, { secret_id_bound_cidrs: [] });
    await eventually(async () => (await probe(fx)) === "SERVING", "SERVING after a login");
    // The core's log reaches us through a pipe, maybe after its health port answered.
    await eventually(
      () => /"msg":"logged in to Vault"[^\n]*\n(.*\n)*.*"msg":"logged in to Vault"/.test(fx.core.process.stdout),
      "a second login in the service log",
    );
  });
});
