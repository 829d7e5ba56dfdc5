import { credentials, status } from "@grpc/grpc-js";
import { createTotpClient } from "@totp-custody/client";
import { type PersistentVault, startVault, type Vault } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  announcedPorts,
  type CoreFixture,
  checkHealth,
  eventually,
  failure,
  mtlsCredentials,
  startCoreFixture,
} from "./grpcHarness.js";
import { startTcpProxy, type TcpProxy } from "./tcpProxy.js";

const CALLS = 50;

/** The 99th percentile of some durations (nearest rank). */
const p99 = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.ceil(ms.length * 0.99) - 1] ?? Number.NaN;

describe("Vault outages: totp-core on a persistent OpenBao that stops, restarts, seals and unseals", () => {
  let vault: Vault & PersistentVault;
  let fx: CoreFixture;
  let probe: string;

  beforeAll(async () => {
    vault = await startVault({ persistent: true });
    await vault.enableKv("secret");
    fx = await startCoreFixture(
      "vault-kv",
      {
        // Every code reads Vault, so an outage shows on every call rather than after a cache entry expires.
        TOTP_CACHE_TTL_MS: "0",
        VAULT_TIMEOUT_MS: "1000",
        TOTP_HEALTH_LISTEN: "127.0.0.1:0",
        TOTP_METRICS_LISTEN: "127.0.0.1:0",
      },
      { vault },
    );
    probe = `127.0.0.1:${announcedPorts(fx.core).health}`;
    await fx.client("admin").registerSeed({
      label: "vaulted",
      otpauthUri: `otpauth://totp/x?secret=${new OTPAuth.Secret({ size: 20 }).base32}`,
    });
  });
  afterAll(() => fx?.close());

  const probeStatus = () => checkHealth(probe, credentials.createInsecure());

  /** CALLS codes one after the other while Vault is out: every one must come back UNAVAILABLE. */
  async function callsDuringOutage(): Promise<number[]> {
    const latencies: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const started = performance.now();
      const err = await failure(fx.client("admin").generateCode({ label: "vaulted" }));
      latencies.push(performance.now() - started);
      expect(err.code).toBe(status.UNAVAILABLE);
      // The caller learns that the store is out, and nothing of what Vault said.
      expect(err.message).toBe("seed store unavailable");
    }
    return latencies;
  }

  /** After Vault is back: polls until a code comes through, without restarting the core; answers the wait. */
  async function recovery(): Promise<number> {
    const back = performance.now();
    await eventually(
      () =>
        fx
          .client("admin")
          .generateCode({ label: "vaulted" })
          .then(
            () => true,
            () => false,
          ),
      "a code once Vault is back",
    );
    const waited = performance.now() - back;
    await eventually(async () => (await probeStatus()) === "SERVING", "probe port SERVING again");
    return waited;
  }

  it("fails fast with UNAVAILABLE while Vault is stopped, goes NOT_SERVING, and resumes once it is back", async () => {
    const pid = fx.core.process.pid;
    expect((await fx.client("admin").generateCode({ label: "vaulted" })).code).toMatch(/^\d{6}$/);
    expect(await probeStatus()).toBe("SERVING");

    await vault.halt();
    const latencies = await callsDuringOutage();
    await eventually(async () => (await probeStatus()) === "NOT_SERVING", "probe port NOT_SERVING");
    // The mTLS port reports the same status.
    expect(await checkHealth(fx.core.address, mtlsCredentials(fx, "admin"))).toBe("NOT_SERVING");

    await vault.start();
    const recoveredMs = await recovery();
    expect(fx.core.process.pid).toBe(pid);
    expect(fx.core.process.stdout.match(/"totp-core ready"/g)).toHaveLength(1);

    const metrics = await (await fetch(`http://127.0.0.1:${announcedPorts(fx.core).metrics}/metrics`)).text();
    const errors = Number(metrics.match(/^totp_store_errors_total\{store="vault-kv",op="kvRead"\} (\d+)$/m)?.[1]);
    expect(errors).toBeGreaterThanOrEqual(CALLS);
    console.info(
      `[measured] Vault stopped: p99 of ${CALLS} GenerateCode calls = ${p99(latencies).toFixed(1)} ms ` +
        `(max ${Math.max(...latencies).toFixed(1)} ms); recovery after restart = ${recoveredMs.toFixed(0)} ms`,
    );
  });

  it("fails fast with UNAVAILABLE while Vault is sealed, goes NOT_SERVING, and resumes once it is unsealed", async () => {
    expect((await fx.client("admin").generateCode({ label: "vaulted" })).code).toMatch(/^\d{6}$/);

    await vault.seal();
    const latencies = await callsDuringOutage();
    await eventually(async () => (await probeStatus()) === "NOT_SERVING", "probe port NOT_SERVING while sealed");

    await vault.unseal();
    const recoveredMs = await recovery();
    console.info(
      `[measured] Vault sealed: p99 of ${CALLS} GenerateCode calls = ${p99(latencies).toFixed(1)} ms ` +
        `(max ${Math.max(...latencies).toFixed(1)} ms); recovery after unseal = ${recoveredMs.toFixed(0)} ms`,
    );
  });
});

describe("a hung Vault (a partition: connections accepted, nothing answered)", () => {
  let proxy: TcpProxy;
  let fx: CoreFixture;

  beforeAll(async () => {
    const vault = await startVault();
    proxy = await startTcpProxy(Number(new URL(vault.addr).port));
    // The core's default Vault timeout and the SDK's default deadline: what a deployment gets unless it tunes them.
    fx = await startCoreFixture(
      "vault-kv",
      { VAULT_ADDR: proxy.url, TOTP_CACHE_TTL_MS: "0", TOTP_HEALTH_LISTEN: "127.0.0.1:0" },
      { vault },
    );
    await fx.client("admin").registerSeed({
      label: "partitioned",
      otpauthUri: `otpauth://totp/x?secret=${new OTPAuth.Secret({ size: 20 }).base32}`,
    });
  });
  afterAll(async () => {
    await fx?.close();
    await proxy?.close();
  });

  it("answers UNAVAILABLE within the client's deadline, goes NOT_SERVING, and resumes when the partition heals", async () => {
    const client = createTotpClient({ ...fx.core.clientOptions("admin"), maxAttempts: 1 });
    try {
      proxy.hung = true;
      const latencies: number[] = [];
      const errors = await Promise.all(
        Array.from({ length: CALLS }, async () => {
          const started = performance.now();
          const err = await failure(client.generateCode({ label: "partitioned" }));
          latencies.push(performance.now() - started);
          return err;
        }),
      );
      // UNAVAILABLE (retryable, the store is out), not DEADLINE_EXCEEDED: Vault gives up before the caller does.
      expect(errors.map((e) => e.codeName)).toEqual(Array(CALLS).fill("UNAVAILABLE"));
      const probe = `127.0.0.1:${announcedPorts(fx.core).health}`;
      await eventually(
        async () => (await checkHealth(probe, credentials.createInsecure())) === "NOT_SERVING",
        "probe port NOT_SERVING while Vault hangs",
      );

      proxy.hung = false;
      const healed = performance.now();
      await eventually(
        () =>
          client.generateCode({ label: "partitioned" }).then(
            () => true,
            () => false,
          ),
        "a code once the partition heals",
      );
      console.info(
        `[measured] Vault hung: p99 of ${CALLS} concurrent GenerateCode calls = ${p99(latencies).toFixed(0)} ms ` +
          `(default VAULT_TIMEOUT_MS); recovery after healing = ${(performance.now() - healed).toFixed(0)} ms`,
      );
    } finally {
      client.close();
    }
  });
});
