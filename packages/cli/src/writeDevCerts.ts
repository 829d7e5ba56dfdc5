import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createCa, issueCertificate, issueLocalCoreCertificate, spiffeId, writePem } from "@totp-custody/pki";
import { CliError } from "./CliError.js";
import { DEV_ADMIN } from "./devLayout.js";
import { ExitCode } from "./exitCodes.js";

/** The clients a development setup has: both bots and the operator's admin client, named as the policy names them. */
export const DEV_CLIENTS = ["telegram-bot", "zulip-bot", DEV_ADMIN] as const;

/**
 * Writes a development CA and certificates into `dir`: totp-core's (for localhost and 127.0.0.1) and one per
 * client with its SPIFFE ID; keys are owner-only. An existing CA is kept unless `force`, since replacing it
 * invalidates every certificate it signed, including ones copied elsewhere. Answers the files written.
 */
export async function writeDevCerts(dir: string, options: { force?: boolean } = {}): Promise<string[]> {
  const caPath = join(dir, "ca.crt");
  if (!options.force && (existsSync(caPath) || existsSync(join(dir, "ca.key")))) {
    throw new CliError(
      `${caPath} exists: keep it, or pass --force to replace the CA and every certificate`,
      ExitCode.invalid,
    );
  }
  // Owner-only, like the keys inside: the folder is the development trust root.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa({ commonName: "totp-custody development CA" });
  const written: string[] = [];
  const write = async (name: string, pair: Parameters<typeof writePem>[2]) => {
    const paths = await writePem(dir, name, pair);
    written.push(paths.certPath, paths.keyPath);
  };
  await write("ca", ca);
  await write("totp-core", await issueLocalCoreCertificate(ca));
  for (const name of DEV_CLIENTS) {
    await write(name, await issueCertificate(ca, { commonName: name, uris: [spiffeId(name)] }));
  }
  return written;
}
