import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueCertificate, type PemPair, writePem } from "../src/index.js";
import { tlsHandshake } from "./tlsHandshake.js";

describe("pki", () => {
  let ca: PemPair;
  let server: PemPair;
  let client: PemPair;

  beforeAll(async () => {
    ca = await createCa({ commonName: "test CA" });
    server = await issueCertificate(ca, {
      commonName: "totp-core",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      uris: ["spiffe://totp.internal/totp-core"],
    });
    client = await issueCertificate(ca, {
      commonName: "telegram-bot",
      uris: ["spiffe://totp.internal/telegram-bot"],
      serverAuth: false,
    });
  });

  it("puts the URI SAN where Node's X509Certificate reads it", () => {
    const cert = new X509Certificate(client.certPem);
    expect(cert.subjectAltName).toBe("URI:spiffe://totp.internal/telegram-bot");
    expect(cert.subject).toBe("CN=telegram-bot");
    expect(new X509Certificate(server.certPem).subjectAltName).toBe(
      "DNS:localhost, IP Address:127.0.0.1, URI:spiffe://totp.internal/totp-core",
    );
  });

  it("makes a CA that the leaf certificates chain to", () => {
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(server.certPem);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
  });

  it("exports the key as PKCS#8 PEM matching the certificate", () => {
    const key = createPrivateKey(client.keyPem);
    // Re-encoding as PKCS#8 gives back the same text (line breaks aside): the key was PKCS#8 PEM already, not SEC1.
    const unwrapped = (pem: string | Buffer) => pem.toString().replace(/\s+/g, "");
    expect(unwrapped(key.export({ type: "pkcs8", format: "pem" }))).toBe(unwrapped(client.keyPem));
    expect(key.asymmetricKeyType).toBe("ec");
    expect(new X509Certificate(client.certPem).checkPrivateKey(key)).toBe(true);
  });

  it("completes a mutual TLS handshake between certificates of one CA", async () => {
    const result = await tlsHandshake(ca.certPem, server, client);
    expect(result).toEqual({ ok: true, peerSan: "URI:spiffe://totp.internal/telegram-bot" });
  });

  it("fails the handshake for a client certificate from a foreign CA", async () => {
    const foreignCa = await createCa({ commonName: "foreign CA" });
    const foreign = await issueCertificate(foreignCa, {
      commonName: "telegram-bot",
      uris: ["spiffe://totp.internal/telegram-bot"],
    });
    expect(new X509Certificate(foreign.certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(false);
    expect((await tlsHandshake(ca.certPem, server, foreign)).ok).toBe(false);
  });

  it("fails the handshake for an expired client certificate", async () => {
    const expired = await issueCertificate(ca, {
      commonName: "expired",
      uris: ["spiffe://totp.internal/expired"],
      notBefore: new Date(Date.now() - 2 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    expect(new Date(new X509Certificate(expired.certPem).validTo).getTime()).toBeLessThan(Date.now());
    expect((await tlsHandshake(ca.certPem, server, expired)).ok).toBe(false);
  });

  describe("writePem", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "pki-test-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("writes <name>.crt and an owner-only <name>.key", async () => {
      const paths = await writePem(join(dir, "certs"), "client", client);
      expect(paths).toEqual({ certPath: join(dir, "certs", "client.crt"), keyPath: join(dir, "certs", "client.key") });
      expect(await readFile(paths.certPath, "utf8")).toBe(client.certPem);
      expect(await readFile(paths.keyPath, "utf8")).toBe(client.keyPem);
      expect((await stat(paths.keyPath)).mode & 0o777).toBe(0o600);
    });
  });
});
