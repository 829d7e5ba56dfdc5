import { createPrivateKey, X509Certificate } from "node:crypto";

/** Whether `pem` holds a certificate (the first, for a bundle). */
export function isCertificate(pem: Buffer): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pem` holds a private key. */
export function isPrivateKey(pem: Buffer): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

/** Whether both parse and `key` is the private key of `certificate`. */
export function keyMatches(certificate: Buffer, key: Buffer): boolean {
  try {
    return new X509Certificate(certificate).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}
