import { X509Certificate } from "node:crypto";
import { access, readFile, stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestPki, type TestPki } from "../src/index.js";

describe("makeTestPki", () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki(["telegram-bot", "admin"]);
  });
  afterAll(async () => {
    await pki?.cleanup();
  });

  const read = async (path: string) => new X509Certificate(await readFile(path));

  it("writes a CA and a totp-core server certificate for localhost", async () => {
    const ca = await read(pki.caPath);
    const server = await read(pki.server.certPath);
    expect(ca.ca).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, URI:spiffe://totp.internal/totp-core");
    expect(server.checkHost("localhost")).toBe("localhost");
  });

  it("writes one client certificate per name, with its SPIFFE URI SAN and an owner-only key", async () => {
    const ca = await read(pki.caPath);
    for (const name of ["telegram-bot", "admin"]) {
      const client = pki.clients[name];
      if (!client) throw new Error(`no client ${name}`);
      const cert = await read(client.certPath);
      expect(cert.subjectAltName).toBe(`URI:spiffe://totp.internal/${name}`);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect((await stat(client.keyPath)).mode & 0o777).toBe(0o600);
    }
  });

  it("writes an expired certificate and a foreign one carrying a known identity", async () => {
    const ca = await read(pki.caPath);
    const expired = await read(pki.expired.certPath);
    const foreign = await read(pki.foreign.certPath);
    expect(new Date(expired.validTo).getTime()).toBeLessThan(Date.now());
    expect(expired.verify(ca.publicKey)).toBe(true);
    expect(foreign.subjectAltName).toBe("URI:spiffe://totp.internal/telegram-bot");
    expect(foreign.verify(ca.publicKey)).toBe(false);
    expect(foreign.verify((await read(pki.foreignCaPath)).publicKey)).toBe(true);
  });

  it("refuses a client name that would overwrite a fixed certificate", async () => {
    await expect(makeTestPki(["expired"])).rejects.toThrow('"expired" names a fixed certificate');
  });

  it("removes everything on cleanup", async () => {
    const other = await makeTestPki();
    expect(Object.keys(other.clients)).toEqual(["client"]);
    await other.cleanup();
    await expect(access(other.dir)).rejects.toThrow();
  });
});
