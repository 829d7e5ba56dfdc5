import { readFileSync } from "node:fs";

/** Fewer bytes would make the HMAC easier to guess than SHA-256 is to break. */
const MIN_KEY_BYTES = 32;

/**
 * The audit key in a file (TOTP_AUDIT_KEY_FILE, or the verifier's --key-file): its bytes, a final newline left out
 * so `openssl rand -hex 32 > key` works as written. Throws when the file cannot be read or is too short.
 */
export function readAuditKey(file: string): Buffer {
  const bytes = readFileSync(file);
  const key = bytes.at(-1) === 0x0a ? bytes.subarray(0, -1) : bytes;
  if (key.length < MIN_KEY_BYTES) {
    throw new Error(`the audit key has ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed`);
  }
  return key;
}
