import { generateKeyPair, privateKeyToPem, signingAlgorithm, webCrypto } from "./keys.js";
import type { PemPair } from "./PemPair.js";
import { validity } from "./validity.js";
import * as x509 from "./x509.js";

export interface CreateCaOptions {
  commonName: string;
  notBefore?: Date;
  /** Defaults to ten years after notBefore. */
  notAfter?: Date;
}

/** A self-signed CA that signs our own peers' certificates; our mTLS never trusts the public roots. */
export async function createCa(options: CreateCaOptions): Promise<PemPair> {
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: [options.commonName] }],
      keys,
      signingAlgorithm,
      ...validity(options.notBefore, options.notAfter, 3650),
      extensions: [
        // pathLength 0: this CA signs leaf certificates only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webCrypto),
      ],
    },
    webCrypto,
  );
  return { certPem: cert.toString("pem"), keyPem: await privateKeyToPem(keys.privateKey) };
}
