import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCa,
  issueCertificate,
  issueLocalCoreCertificate,
  type PemPair,
  type PemPaths,
  spiffeId,
  writePem,
} from "@totp-custody/pki";

export type TestCert = PemPair & PemPaths;

export interface TestPki {
  dir: string;
  /** The CA every service trusts (`TOTP_TLS_CA`); its key stays in memory to issue more with @totp-custody/pki. */
  ca: PemPair;
  caPath: string;
  /** totp-core: DNS localhost, IP 127.0.0.1, URI spiffe://totp.internal/totp-core. */
  server: TestCert;
  /** One per requested name, each with the URI SAN spiffe://totp.internal/<name>. */
  clients: Record<string, TestCert>;
  /** The first name's identity, but valid only in the past. */
  expired: TestCert;
  /** The first name's identity, signed by a CA nobody trusts. */
  foreign: TestCert;
  foreignCaPath: string;
  cleanup(): Promise<void>;
}

const DAY_MS = 86_400_000;
// Files of the fixed certificates; a client of the same name would overwrite one of them.
const RESERVED = ["ca", "foreign-ca", "totp-core", "expired", "foreign"];

/** A throwaway CA with certificates for a test run, written to a temporary directory. */
export async function makeTestPki(names: readonly string[] = ["client"]): Promise<TestPki> {
  const clash = names.find((name) => RESERVED.includes(name));
  if (clash) throw new Error(`makeTestPki: "${clash}" names a fixed certificate; choose another client name`);
  const dir = await mkdtemp(join(tmpdir(), "totp-pki-"));
  try {
    const identity = names[0] ?? "client";
    const ca = await createCa({ commonName: "totp-custody test CA" });
    const foreignCa = await createCa({ commonName: "foreign test CA" });
    const write = async (name: string, pair: PemPair): Promise<TestCert> => ({
      ...pair,
      ...(await writePem(dir, name, pair)),
    });

    const server = await write("totp-core", await issueLocalCoreCertificate(ca));
    const clients: Record<string, TestCert> = {};
    for (const name of names) {
      clients[name] = await write(name, await issueCertificate(ca, { commonName: name, uris: [spiffeId(name)] }));
    }
    const expired = await write(
      "expired",
      await issueCertificate(ca, {
        commonName: identity,
        uris: [spiffeId(identity)],
        notBefore: new Date(Date.now() - 2 * DAY_MS),
        notAfter: new Date(Date.now() - DAY_MS),
      }),
    );
    const foreign = await write(
      "foreign",
      await issueCertificate(foreignCa, { commonName: identity, uris: [spiffeId(identity)] }),
    );

    return {
      dir,
      ca,
      caPath: (await writePem(dir, "ca", ca)).certPath,
      server,
      clients,
      expired,
      foreign,
      foreignCaPath: (await writePem(dir, "foreign-ca", foreignCa)).certPath,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
