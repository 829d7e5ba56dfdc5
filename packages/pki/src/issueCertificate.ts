import { generateKeyPair, privateKeyToPem, signingAlgorithm, signingKeyFromPem, webCrypto } from "./keys.js";
import type { PemPair } from "./PemPair.js";
import { validity } from "./validity.js";
import * as x509 from "./x509.js";

export interface IssueCertificateOptions {
  commonName: string;
  /** URI SANs, such as `spiffe://totp.internal/telegram-bot`: the identity totp-core authorizes. */
  uris?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Defaults to true: most of our peers are both, and a false here makes a certificate TLS refuses in that role. */
  serverAuth?: boolean;
  /** Defaults to true. */
  clientAuth?: boolean;
  notBefore?: Date;
  /** Defaults to one year after notBefore. */
  notAfter?: Date;
}

/** A leaf certificate with a fresh key, signed by `ca` (as returned by createCa or read back from its files). */
export async function issueCertificate(ca: PemPair, options: IssueCertificateOptions): Promise<PemPair> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = await generateKeyPair();
  const names: x509.JsonGeneralNames = [
    ...(options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
    ...(options.uris ?? []).map((value) => ({ type: "url" as const, value })),
  ];
  const usages = [
    ...(options.serverAuth === false ? [] : [x509.ExtendedKeyUsage.serverAuth]),
    ...(options.clientAuth === false ? [] : [x509.ExtendedKeyUsage.clientAuth]),
  ];
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: [{ CN: [options.commonName] }],
      issuer: caCert.subjectName,
      publicKey: keys.publicKey,
      signingKey: await signingKeyFromPem(ca.keyPem),
      signingAlgorithm,
      ...validity(options.notBefore, options.notAfter, 365),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ...(usages.length > 0 ? [new x509.ExtendedKeyUsageExtension(usages, false)] : []),
        // Without a SAN, modern TLS stacks (Go's among them) refuse to match a host name at all.
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, webCrypto),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webCrypto),
      ],
    },
    webCrypto,
  );
  return { certPem: cert.toString("pem"), keyPem: await privateKeyToPem(keys.privateKey) };
}
