import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PemPair } from "./PemPair.js";

export interface PemPaths {
  certPath: string;
  keyPath: string;
}

/** Writes `<name>.crt` and `<name>.key`; the key is readable by its owner only, as TLS servers expect. */
export async function writePem(dir: string, name: string, pair: PemPair): Promise<PemPaths> {
  await mkdir(dir, { recursive: true });
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  await writeFile(certPath, pair.certPem, { mode: 0o644 });
  await writeFile(keyPath, pair.keyPem, { mode: 0o600 });
  // The mode above applies only when the file is created; an overwritten key keeps whatever mode it had.
  await chmod(keyPath, 0o600);
  return { certPath, keyPath };
}
