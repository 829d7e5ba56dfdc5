import { issueCertificate } from "./issueCertificate.js";
import type { PemPair } from "./PemPair.js";

/** The trust domain of every identity totp-custody's policies name. */
export const TRUST_DOMAIN = "totp.internal";

/** The identity a peer's certificate carries and totp-core's policy names: `spiffe://totp.internal/<name>`. */
export function spiffeId(name: string): string {
  return `spiffe://${TRUST_DOMAIN}/${name}`;
}

/** totp-core's serving certificate for a local setup: localhost and 127.0.0.1, with its own SPIFFE ID. */
export function issueLocalCoreCertificate(ca: PemPair): Promise<PemPair> {
  return issueCertificate(ca, {
    commonName: "totp-core",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    uris: [spiffeId("totp-core")],
  });
}
