import { readFileSync } from "node:fs";
import { isCertificate, isPrivateKey, keyMatches } from "./pemChecks.js";

/** Where totp-core is and how each call behaves, whichever form the mTLS material takes. */
export interface TotpConnectionOptions {
  /** host:port of totp-core. */
  address: string;
  /** Deadline of each attempt, in milliseconds (default 5000). */
  deadlineMs?: number;
  /**
   * Attempts in all for a call that fails UNAVAILABLE and may be repeated: a read always, a write only when no
   * connection could be made (default 4).
   */
  maxAttempts?: number;
  /** First retry delay in milliseconds, doubled at each attempt, with full jitter (default 100). */
  backoffMs?: number;
  /** The name to check in totp-core's certificate when it differs from the address's host. */
  serverName?: string;
}

/** How to reach totp-core with the mTLS material as PEM text or bytes, used for the life of the client. */
export interface TotpClientOptions extends TotpConnectionOptions {
  /** The CA that signed totp-core's certificate (our own CA, never the public roots). */
  ca: string | Buffer;
  /** This client's certificate; its URI SAN is its identity. */
  cert: string | Buffer;
  /** This client's private key. */
  key: string | Buffer;
}

/**
 * How to reach totp-core with the mTLS material as PEM files, re-read every `refreshIntervalMs` while the client
 * runs, so that a renewed certificate (cert-manager's, a kubelet-updated Secret) is used without a restart: each new
 * connection is made with the files as last read.
 */
export interface TotpClientFileOptions extends TotpConnectionOptions, TlsFiles {
  /** How often the files are read again, in milliseconds (default 60000). */
  refreshIntervalMs?: number;
}

/** The paths of the three PEM files. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

type Env = Record<string, string | undefined>;

function readNamed(env: Env, name: string): { file: string; pem: Buffer } {
  const file = env[name];
  if (!file) throw new Error(`${name}: required (a PEM file)`);
  try {
    return { file, pem: readFileSync(file) };
  } catch (err) {
    throw new Error(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** A check of a file's contents that fails naming the variable and its file, never the contents. */
function check(name: string, read: { file: string; pem: Buffer }, what: string, holds: (pem: Buffer) => boolean) {
  if (!read.pem.includes("-----BEGIN ")) throw new Error(`${name}: ${read.file} is not PEM (${what} expected)`);
  if (!holds(read.pem)) throw new Error(`${name}: ${read.file} holds no valid ${what}`);
}

/**
 * The files named by TOTP_TLS_CA, TOTP_TLS_CERT and TOTP_TLS_KEY, read and checked now: each must be readable PEM
 * (a certificate, a certificate, a private key) and the key must be the certificate's, so that a wrong path or a
 * wrong file stops a start, naming its variable, instead of failing every connection later. Messages start with the
 * variable's name.
 */
export function tlsFilesFromEnv(env: Env): TlsFiles {
  const ca = readNamed(env, "TOTP_TLS_CA");
  const cert = readNamed(env, "TOTP_TLS_CERT");
  const key = readNamed(env, "TOTP_TLS_KEY");
  check("TOTP_TLS_CA", ca, "certificate", isCertificate);
  check("TOTP_TLS_CERT", cert, "certificate", isCertificate);
  check("TOTP_TLS_KEY", key, "private key", isPrivateKey);
  if (!keyMatches(cert.pem, key.pem)) {
    throw new Error(`TOTP_TLS_KEY: ${key.file} is not the key of the certificate in TOTP_TLS_CERT (${cert.file})`);
  }
  return { caFile: ca.file, certFile: cert.file, keyFile: key.file };
}

/**
 * Options from TOTP_ADDR, TOTP_SERVER_NAME and the files TOTP_TLS_CA/CERT/KEY (see tlsFilesFromEnv), the names
 * shared by the bots and the CLI. The files are re-read while the client runs, so a long-running program picks up
 * renewed certificates.
 */
export function clientOptionsFromEnv(env: Env = process.env): TotpClientFileOptions {
  const address = env.TOTP_ADDR;
  if (!address) throw new Error("TOTP_ADDR: required (totp-core's host:port)");
  return { address, ...tlsFilesFromEnv(env), serverName: env.TOTP_SERVER_NAME || undefined };
}
