import { setTimeout as sleep } from "node:timers/promises";
import { type AuditedVault, startVault, type Vault } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRoleLogin, type CoreFixture, eventually, revokeRoleTokens, startCoreFixture } from "./grpcHarness.js";

const ROLE = "totp-core-short";
/** Short enough that a run of half a minute sees renewals, the max TTL, and a fresh login. */
const TOKEN_TTL_S = 10;
const TOKEN_MAX_TTL_S = 20;
const WORKERS = 4;
const RUN_MS = 30_000;

describe("Vault token lifecycle under load: renewal, max TTL, revocation", () => {
  let vault: Vault & AuditedVault;
  let fx: CoreFixture;
  let secretId: string | undefined;

  beforeAll(async () => {
    vault = await startVault({ auditLog: true });
    const auth = await appRoleLogin(vault, ROLE, { tokenTtl: TOKEN_TTL_S, tokenMaxTtl: TOKEN_MAX_TTL_S });
    secretId = auth.VAULT_SECRET_ID;
    // No cache: every call reads Vault with the token of the moment, so a lapse in it fails a call.
    fx = await startCoreFixture("vault-kv", { TOTP_CACHE_TTL_MS: "0" }, { vault, vaultAuth: auth });
  });
  afterAll(() => fx?.close());

  it("keeps every call working through renewals, a re-login at the max TTL and a revoked token", async () => {
    const admin = fx.client("admin");
    await admin.registerSeed({
      label: "renewed",
      otpauthUri: `otpauth://totp/x?secret=${new OTPAuth.Secret({ size: 20 }).base32}`,
    });
    const log = () => fx.core.process.stdout;
    const logins = () => log().match(/"msg":"logged in to Vault"/g)?.length ?? 0;

    const started = performance.now();
    let running = true;
    let calls = 0;
    const failures: string[] = [];
    // Each worker sends one call after the other; the SDK client does not retry (maxAttempts 1), so any failed
    // call is counted.
    const workers = Array.from({ length: WORKERS }, async () => {
      while (running) {
        try {
          await admin.generateCode({ label: "renewed" });
          calls++;
        } catch (err) {
          failures.push(String(err));
        }
      }
    });

    try {
      // Phase 1: the token is renewed while renewal extends it, then replaced by a login when the max TTL nears.
      await eventually(() => /the token cannot be renewed further/.test(log()), "a re-login at the max TTL", 60_000);
      await eventually(() => logins() >= 2, "the second login", 30_000);
      const renewals = await vault.countRequests((e) => e.request?.path === "auth/token/renew-self");
      expect(renewals).toBeGreaterThanOrEqual(1);
      // Renewal kept the token alive: no request was refused for an expired token before this point.
      expect(log()).not.toMatch(/Vault refused the token/);

      // Phase 2: an operator revokes the service's token mid-run; the next request gets 403 and logs in again.
      const before = logins();
      expect(await revokeRoleTokens(vault, ROLE)).toBeGreaterThanOrEqual(1);
      await eventually(() => logins() > before, "a login after the revocation", 30_000);
      expect(log()).toMatch(/Vault refused (the token|to renew the token)/);
      // Keep calling on the new token until the run has lasted RUN_MS.
      await sleep(Math.max(3000, started + RUN_MS - performance.now()));
    } finally {
      running = false;
      await Promise.all(workers);
    }

    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(100);
    // Neither the secret id nor a token reaches the service's output.
    expect(secretId).toBeTruthy();
    expect(log() + fx.core.process.stderr).not.toContain(secretId);
    expect(log() + fx.core.process.stderr).not.toMatch(/\b(hvs|s)\.[A-Za-z0-9]{20,}/);
    console.info(`[measured] token lifecycle: ${calls} calls, ${failures.length} failed, ${logins()} logins`);
  });
});
