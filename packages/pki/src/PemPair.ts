/** A certificate and its private key (PKCS#8), both PEM encoded: what TLS servers and clients load. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}
