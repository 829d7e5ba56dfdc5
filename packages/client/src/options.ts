import { readFileSync } from "node:fs";

/** How to reach totp-core: its address and the mTLS material, as PEM text or bytes. */
export interface TotpClientOptions {
  /** host:port of totp-core. */
  address: string;
  /** The CA that signed totp-core's certificate (our own CA, never the public roots). */
  ca: string | Buffer;
  /** This client's certificate; its URI SAN is its identity. */
  cert: string | Buffer;
  /** This client's private key. */
  key: string | Buffer;
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

type Env = Record<string, string | undefined>;

function readNamed(env: Env, name: string): Buffer {
  const file = env[name];
  if (!file) throw new Error(`${name} is not set: it names the PEM file the client needs`);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** Options from TOTP_ADDR and TOTP_TLS_CA/CERT/KEY (file paths), the names shared by the bots and the CLI. */
export function clientOptionsFromEnv(env: Env = process.env): TotpClientOptions {
  const address = env.TOTP_ADDR;
  if (!address) throw new Error("TOTP_ADDR is not set: it names totp-core's host:port");
  return {
    address,
    ca: readNamed(env, "TOTP_TLS_CA"),
    cert: readNamed(env, "TOTP_TLS_CERT"),
    key: readNamed(env, "TOTP_TLS_KEY"),
    serverName: env.TOTP_SERVER_NAME || undefined,
  };
}
