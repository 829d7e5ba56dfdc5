import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../src/CliError.js";
import { devPolicyYaml } from "../src/devPolicyYaml.js";
import { ExitCode } from "../src/exitCodes.js";
import { DEV_CLIENTS, writeDevCerts } from "../src/writeDevCerts.js";

describe("writeDevCerts", () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(await mkdtemp(join(tmpdir(), "totpctl-certs-")), "certs");
  });
  afterAll(async () => {
    await rm(join(dir, ".."), { recursive: true, force: true });
  });

  const cert = async (name: string) => new X509Certificate(await readFile(join(dir, `${name}.crt`)));

  it("writes a CA and certificates with the SANs the policy and the clients expect, keys owner-only", async () => {
    const written = await writeDevCerts(dir);
    const names = ["ca", "totp-core", ...DEV_CLIENTS];
    expect(written.sort()).toEqual(names.flatMap((n) => [join(dir, `${n}.crt`), join(dir, `${n}.key`)]).sort());
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const name of names) expect((await stat(join(dir, `${name}.key`))).mode & 0o777).toBe(0o600);

    const ca = await cert("ca");
    expect(ca.ca).toBe(true);
    const core = await cert("totp-core");
    expect(core.verify(ca.publicKey)).toBe(true);
    expect(core.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, URI:spiffe://totp.internal/totp-core");
    for (const name of DEV_CLIENTS) {
      const client = await cert(name);
      expect(client.verify(ca.publicKey)).toBe(true);
      expect(client.subjectAltName).toBe(`URI:spiffe://totp.internal/${name}`);
    }
    // The development policy names exactly these identities.
    for (const name of DEV_CLIENTS) expect(devPolicyYaml()).toContain(`spiffe://totp.internal/${name}:`);
  });

  it("keeps an existing CA unless forced, since every certificate it signed depends on it", async () => {
    const before = await readFile(join(dir, "ca.crt"), "utf8");
    const err = await writeDevCerts(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ exitCode: ExitCode.invalid, message: expect.stringMatching(/ca\.crt exists/) });
    expect(await readFile(join(dir, "ca.crt"), "utf8")).toBe(before);

    await writeDevCerts(dir, { force: true });
    expect(await readFile(join(dir, "ca.crt"), "utf8")).not.toBe(before);
  });
});
