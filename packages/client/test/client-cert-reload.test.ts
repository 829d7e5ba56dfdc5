import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueCertificate, type PemPair } from "@totp-custody/pki";
import {
  eventually,
  makeTestPki,
  newSecret,
  type RunningCore,
  spiffeId,
  startTotpCore,
  type TestPki,
} from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientOptionsFromEnv, createTotpClient, status, type TotpClient } from "../src/index.js";

const HOUR_MS = 3_600_000;
/** The client's refresh interval here: short, so that the test waits for the reload and not for the default minute. */
const REFRESH_MS = 200;

const policyText = (issuedAfter?: string) => `
clients:
  spiffe://totp.internal/app: { principal: service:app${issuedAfter ? `, issuedAfter: "${issuedAfter}"` : ""} }
selfService: true
`;

/**
 * A folder laid out as the kubelet mounts a Secret: tls.crt and tls.key link into `..data`, itself a link to one
 * generation's folder, and an update swaps `..data` in one rename, so a reader never sees half of one.
 */
async function secretVolume(dir: string, first: PemPair) {
  let generation = 0;
  const publish = async (pair: PemPair) => {
    generation += 1;
    const folder = join(dir, `..gen${generation}`);
    await mkdir(folder);
    await writeFile(join(folder, "tls.crt"), pair.certPem);
    await writeFile(join(folder, "tls.key"), pair.keyPem);
    await symlink(folder, join(dir, "..data.tmp"));
    await rename(join(dir, "..data.tmp"), join(dir, "..data"));
  };
  await publish(first);
  await symlink(join(dir, "..data", "tls.crt"), join(dir, "tls.crt"));
  await symlink(join(dir, "..data", "tls.key"), join(dir, "tls.key"));
  return { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key"), publish };
}

describe("a long-running client given its certificate as files", () => {
  let pki: TestPki;
  let core: RunningCore;
  let dir: string;
  let client: TotpClient | undefined;
  let volume: Awaited<ReturnType<typeof secretVolume>>;
  let old: PemPair;
  let renewed: PemPair;
  beforeAll(async () => {
    pki = await makeTestPki([]);
    dir = await mkdtemp(join(tmpdir(), "client-cert-reload-"));
    // Connections last at most a second, so the client reconnects soon after its files change; the tests poll, so
    // the per-minute limits are out of the way.
    core = await startTotpCore({
      pki,
      policy: policyText(),
      env: {
        TOTP_POLICY_RELOAD_MS: "100",
        TOTP_MAX_CONNECTION_AGE_MS: "1000",
        TOTP_RATE_CODES_PER_LABEL: "10000",
        TOTP_RATE_REQUESTS_PER_PRINCIPAL: "10000",
        TOTP_RATE_REFUSALS_PER_CLIENT: "10000",
      },
    });
  });
  afterAll(async () => {
    client?.close();
    await core?.stop();
    await pki?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("is served with its renewed certificate once the old one is revoked by issuedAfter", async () => {
    const identity = { commonName: "app", uris: [spiffeId("app")] };
    old = await issueCertificate(pki.ca, { ...identity, notBefore: new Date(Date.now() - 2 * HOUR_MS) });
    renewed = await issueCertificate(pki.ca, identity);
    volume = await secretVolume(dir, old);
    const options = clientOptionsFromEnv({
      TOTP_ADDR: core.address,
      TOTP_SERVER_NAME: "localhost",
      TOTP_TLS_CA: pki.caPath,
      TOTP_TLS_CERT: volume.certFile,
      TOTP_TLS_KEY: volume.keyFile,
    });
    client = createTotpClient({ ...options, refreshIntervalMs: REFRESH_MS });
    const live = client;
    const label = "deploy-key";
    // The first call needs the files' first read: the connection waits for it.
    await live.registerSeed({ label, otpauthUri: `otpauth://totp/x?secret=${newSecret()}` });

    // Revoked: an hour ago is after the old certificate and before the renewed one.
    await writeFile(core.policyFile, policyText(new Date(Date.now() - HOUR_MS).toISOString()));
    const refused = await eventually(
      () =>
        live.generateCode({ label }).then(
          () => undefined,
          (err: { code?: number; message: string }) => err,
        ),
      { what: "the old certificate refused", timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(refused).toMatchObject({ code: status.PERMISSION_DENIED });
    expect(refused.message).toMatch(/spiffe:\/\/totp\.internal\/app issued .* is revoked/);

    await volume.publish(renewed);
    const served = await eventually(() => live.generateCode({ label }).catch(() => undefined), {
      what: "a code for the renewed certificate",
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    expect(served.code).toMatch(/^\d{6}$/);
    // Still revoked: the old certificate, given as PEM bytes (the form that is read once), is refused.
    const stale = createTotpClient({
      address: core.address,
      ca: pki.ca.certPem,
      cert: old.certPem,
      key: old.keyPem,
      maxAttempts: 1,
    });
    await expect(stale.generateCode({ label })).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    stale.close();
  });

  it("keeps connecting with the last good pair while the files hold a certificate and a key that do not match", async () => {
    const live = client;
    if (!live) throw new Error("the first test makes the client");
    // The renewed certificate with the old key: as if the certificate were renewed before its key.
    await volume.publish({ certPem: renewed.certPem, keyPem: old.keyPem });
    // Reads every 200 ms and connections replaced every second: over 3 s, many new connections are made after
    // reads of the mismatched pair, and each must still be made with the renewed certificate and its own key.
    const until = Date.now() + 3000;
    let calls = 0;
    while (Date.now() < until) {
      expect((await live.generateCode({ label: "deploy-key" }, { deadlineMs: 2000 })).code).toMatch(/^\d{6}$/);
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(calls).toBeGreaterThan(10);
  });
});
