import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type PeerCertificate } from "node:tls";
import { createTotpClient, status, type TotpClient } from "@totp-custody/client";
import { createCa, issueCertificate, type PemPair } from "@totp-custody/pki";
import { spiffeId } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, eventually, failure, startCoreFixture } from "./grpcHarness.js";

const CALLS = 1000;
/** A fresh channel (so a fresh TLS handshake) every this many calls, so handshakes happen all through the swap. */
const CALLS_PER_CONNECTION = 25;

/** The certificate the server presents to a new TLS connection. */
async function servedCertificate(fx: CoreFixture): Promise<PeerCertificate> {
  const admin = fx.pki.clients.admin;
  if (!admin) throw new Error("the test PKI has no admin certificate");
  const socket = connect({
    host: "127.0.0.1",
    port: fx.core.port,
    servername: "localhost",
    ca: fx.pki.ca.certPem,
    cert: admin.certPem,
    key: admin.keyPem,
    ALPNProtocols: ["h2"],
  });
  try {
    await once(socket, "secureConnect");
    return socket.getPeerCertificate();
  } finally {
    socket.destroy();
  }
}

describe("certificate rotation on disk, under load", () => {
  let fx: CoreFixture;
  let rotated: PemPair;
  let newCa: PemPair;
  let newCaClient: PemPair;

  beforeAll(async () => {
    fx = await startCoreFixture("file", { TOTP_TLS_RELOAD_MS: "100" });
    // The server's next certificate comes from the same CA, with a new key, serial and name, as cert-manager
    // renews it; the CA bundle grows by a second CA, as during a CA rotation.
    rotated = await issueCertificate(fx.pki.ca, {
      commonName: "totp-core-rotated",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      uris: [spiffeId("totp-core")],
    });
    newCa = await createCa({ commonName: "totp-custody next CA" });
    newCaClient = await issueCertificate(newCa, { commonName: "admin", uris: [spiffeId("admin")] });
  });
  afterAll(() => fx?.close());

  it("keeps all 1000 calls working while cert, key and CA bundle are replaced, and new connections see them", async () => {
    const before = await servedCertificate(fx);
    expect(before.subject.CN).toBe("totp-core");
    // Not trusted yet: the CA bundle on disk holds only the first CA.
    const early = createTotpClient({
      ...fx.core.clientOptions("admin"),
      cert: newCaClient.certPem,
      key: newCaClient.keyPem,
      maxAttempts: 1,
    });
    expect((await failure(early.listLabels({}))).code).toBe(status.UNAVAILABLE);
    early.close();

    const reloads = () => fx.core.process.stdout.match(/"msg":"TLS certificates loaded"/g)?.length ?? 0;
    const firstReloads = reloads();
    const admin = fx.core.clientOptions("admin");
    let sent = 0;
    let failed = 0;
    let swapped = false;
    const errors: string[] = [];

    // The rotation: files rewritten in place one after the other, with pauses longer than the reload interval, so
    // the reloader sees the mixed states (new certificate with the old key) and must keep the previous set.
    const swap = (async () => {
      await eventually(() => sent >= 200, "200 calls before the swap");
      await writeFile(fx.pki.server.certPath, rotated.certPem);
      await sleep(250);
      await writeFile(fx.pki.server.keyPath, rotated.keyPem);
      await sleep(250);
      // Our PEM text ends without a newline: one between keeps the second certificate readable.
      await writeFile(fx.pki.caPath, `${fx.pki.ca.certPem}\n${newCa.certPem}\n`);
      // Two sets loaded: the certificate with its key, then the CA bundle.
      await eventually(() => reloads() >= firstReloads + 2, "the rotated set loaded");
      swapped = true;
    })();

    let client: TotpClient | undefined;
    try {
      while (sent < CALLS || !swapped) {
        if (sent % CALLS_PER_CONNECTION === 0) {
          client?.close();
          client = createTotpClient({ ...admin, maxAttempts: 1 });
        }
        const batch = Array.from({ length: 5 }, () => (client as TotpClient).listLabels({}));
        sent += batch.length;
        for (const outcome of await Promise.allSettled(batch)) {
          if (outcome.status === "rejected") {
            failed++;
            errors.push(String(outcome.reason));
          }
        }
      }
    } finally {
      client?.close();
      await swap;
    }
    expect(errors).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(CALLS);
    // The half-swapped states were refused, not served.
    expect(fx.core.process.stdout).toMatch(/TLS certificate files unusable; keeping the previous ones/);

    const after = await servedCertificate(fx);
    expect(after.subject.CN).toBe("totp-core-rotated");
    expect(after.serialNumber.toUpperCase()).toBe(new X509Certificate(rotated.certPem).serialNumber.toUpperCase());
    expect(after.serialNumber).not.toBe(before.serialNumber);
    // The new CA in the bundle now lets its clients in.
    const late = createTotpClient({ ...admin, cert: newCaClient.certPem, key: newCaClient.keyPem, maxAttempts: 1 });
    await expect(late.listLabels({})).resolves.toMatchObject({ labels: [] });
    late.close();
    console.info(`[measured] certificate swap: ${sent} calls, ${failed} failed`);
  });
});
