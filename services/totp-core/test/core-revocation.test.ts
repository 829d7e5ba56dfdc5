import { writeFile } from "node:fs/promises";
import { createTotpClient, status, type TotpClient } from "@totp-custody/client";
import { issueCertificate, type PemPair } from "@totp-custody/pki";
import { makeTestPki, newSecret, type RunningCore, spiffeId, startTotpCore, type TestPki } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, failure } from "./grpcHarness.js";

const HOUR_MS = 3_600_000;

const policyText = (issuedAfter?: string) => `
clients:
  spiffe://totp.internal/deployer: { principal: service:deployer${issuedAfter ? `, issuedAfter: "${issuedAfter}"` : ""} }
  spiffe://totp.internal/admin: { principal: service:admin, admin: true }
selfService: true
`;

describe("revoking one certificate of an identity", () => {
  let pki: TestPki;
  let core: RunningCore;
  let stolen: PemPair;
  let replacement: PemPair;
  let twoUris: PemPair;
  let twoSpiffeUris: PemPair;
  const clients: TotpClient[] = [];
  const clientWith = (cert: PemPair) => {
    const client = createTotpClient({
      address: core.address,
      ca: pki.ca.certPem,
      cert: cert.certPem,
      key: cert.keyPem,
      maxAttempts: 1,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    pki = await makeTestPki(["admin"]);
    const deployer = { commonName: "deployer", uris: [spiffeId("deployer")] };
    // The stolen one was issued two hours ago; its replacement now, as `cmctl renew` would.
    stolen = await issueCertificate(pki.ca, { ...deployer, notBefore: new Date(Date.now() - 2 * HOUR_MS) });
    replacement = await issueCertificate(pki.ca, deployer);
    twoUris = await issueCertificate(pki.ca, {
      commonName: "admin",
      uris: [spiffeId("admin"), "https://example.com/other"],
    });
    twoSpiffeUris = await issueCertificate(pki.ca, { commonName: "admin", uris: [spiffeId("admin"), spiffeId("x")] });
    core = await startTotpCore({ pki, policy: policyText(), env: { TOTP_POLICY_RELOAD_MS: "100" } });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await core?.stop();
    await pki?.cleanup();
  });

  it("refuses a certificate issued before the identity's issuedAfter while a later one of the same identity works", async () => {
    const label = "deploy-key";
    await clientWith(stolen).registerSeed({ label, otpauthUri: `otpauth://totp/x?secret=${newSecret()}` });
    // An hour ago: after the stolen certificate, before its replacement.
    await writeFile(core.policyFile, policyText(new Date(Date.now() - HOUR_MS).toISOString()));
    const revoked = () =>
      clientWith(stolen)
        .generateCode({ label })
        .then(
          () => false,
          (err: { code?: number }) => err.code === status.PERMISSION_DENIED,
        );
    await eventually(revoked, "the stolen certificate refused");
    const err = await failure(clientWith(stolen).generateCode({ label }));
    expect(err.message).toMatch(/spiffe:\/\/totp\.internal\/deployer issued .* is revoked/);
    expect((await clientWith(replacement).generateCode({ label })).code).toMatch(/^\d{6}$/);
    // A connection opened before the revocation is refused as well: the check is per call, not per handshake.
    const first = clients[0];
    if (!first) throw new Error("no first client");
    expect((await failure(first.listLabels({}))).code).toBe(status.PERMISSION_DENIED);
  });

  it("refuses an issuedAfter without a time zone, naming the key", async () => {
    await writeFile(core.policyFile, policyText("2026-12-02T18:00:00"));
    await core.process.waitForOutput(/issuedAfter: expected a date and time with its offset/, 30_000);
  });

  it.each([
    ["the admin URI plus an https URI", () => twoUris],
    ["two spiffe URIs", () => twoSpiffeUris],
  ])("refuses a certificate with %s: an X.509-SVID has exactly one URI SAN", async (_name, cert) => {
    const err = await failure(clientWith(cert()).listLabels({}));
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.message).toMatch(/exactly one URI SAN/);
  });
});
