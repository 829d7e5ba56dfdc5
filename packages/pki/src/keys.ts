import { webcrypto } from "node:crypto";
import { PemConverter } from "./x509.js";

// P-256 ECDSA: small keys and fast handshakes, accepted by grpc-js, Go's TLS (grpcurl, ghz) and OpenBao alike.
const keyAlgorithm = { name: "ECDSA", namedCurve: "P-256" };

/** The signature every certificate of ours carries. */
export const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" };

/** Node's own WebCrypto, passed explicitly so nothing depends on a global that a test environment may replace. */
export const webCrypto = webcrypto;

export async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  // Extractable, or the private key could not be written out as PKCS#8 for the servers that load it.
  return webCrypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>;
}

export async function privateKeyToPem(key: webcrypto.CryptoKey): Promise<string> {
  return PemConverter.encode(await webCrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** Reads a CA key back from PEM, so a CA written to disk (totpctl dev-certs) can sign again later. */
export async function signingKeyFromPem(keyPem: string): Promise<webcrypto.CryptoKey> {
  const [der] = PemConverter.decode(keyPem);
  if (!der) throw new Error("no PEM block in the CA key");
  return webCrypto.subtle.importKey("pkcs8", der, keyAlgorithm, false, ["sign"]);
}
