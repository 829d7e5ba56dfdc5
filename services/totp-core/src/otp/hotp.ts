import { createHmac } from "node:crypto";
import type { SeedParams } from "../seed.js";

/** Steam Guard's code alphabet: digits and consonants that cannot be misread for each other. */
const STEAM_ALPHABET = Buffer.from("23456789BCDFGHJKMNPQRTVWXY", "latin1");
const STEAM_LENGTH = 5;

/**
 * The counter's 8 big-endian bytes. Reused across calls to spare an allocation on the hot path: safe because it is
 * filled and consumed synchronously within one `hotp` call, and JavaScript never interleaves two of those.
 */
const counterBytes = Buffer.alloc(8);
/** The Steam code's characters, reused for the same reason. */
const steamBytes = Buffer.alloc(STEAM_LENGTH);

/**
 * The HOTP value (RFC 4226) of `secret` at `counter`: a 6- or 8-digit decimal code, or a 5-character Steam Guard
 * code. `counter` may exceed 2^32: with 1 s steps, TOTP counters do from 2106 on.
 */
export function hotp(
  secret: Buffer,
  counter: number,
  params: Pick<SeedParams, "algorithm" | "digits" | "encoding">,
): string {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError("HOTP counter must be a safe integer >= 0");
  // Bitwise operators would truncate to 32 bits, so the high word is taken by division.
  counterBytes.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
  counterBytes.writeUInt32BE(counter >>> 0, 4);
  const mac = createHmac(params.algorithm, secret).update(counterBytes).digest();
  // Dynamic truncation (RFC 4226 section 5.3): 31 bits at the offset named by the last nibble.
  const value = mac.readUInt32BE((mac[mac.length - 1] as number) & 0x0f) & 0x7fff_ffff;
  return params.encoding === "steam" ? steamCode(value) : decimalCode(value, params.digits);
}

function decimalCode(value: number, digits: number): string {
  // Stored seeds were validated when registered; a bad value here is corruption, not user input.
  if (digits !== 6 && digits !== 8) throw new RangeError("numeric codes have 6 or 8 digits");
  return String(value % 10 ** digits).padStart(digits, "0");
}

/** Steam Guard: five base-26 digits of the truncated value, least significant first. */
function steamCode(value: number): string {
  let v = value;
  for (let i = 0; i < STEAM_LENGTH; i++) {
    steamBytes[i] = STEAM_ALPHABET[v % STEAM_ALPHABET.length] as number;
    v = Math.floor(v / STEAM_ALPHABET.length);
  }
  return steamBytes.toString("latin1");
}
