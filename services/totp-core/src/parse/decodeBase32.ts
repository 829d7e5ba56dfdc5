import { invalid } from "../errors.js";
import { validateSecretLength } from "./seedParams.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** Each ASCII code's 5-bit value, or -1; lower case maps like upper case. */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) {
  VALUES[ALPHABET.charCodeAt(i)] = i;
  VALUES[ALPHABET.toLowerCase().charCodeAt(i)] = i;
}
const SPACE = 0x20;
const PAD = 0x3d;

/**
 * Decodes an RFC 4648 base32 secret of 10 to 128 bytes. Case-insensitive; spaces (issuers print secrets in groups)
 * and trailing `=` padding are ignored. Messages name `field` and a 1-based position within `text`, never a
 * character of it: the text is a secret.
 *
 * Bits left over after the last whole byte are ignored whatever their value, as other authenticators do: issuers
 * that pick random base32 characters (26 for 16 bytes, say) produce non-zero ones. A character count that no byte
 * count encodes to (8n+1, 8n+3, 8n+6) is refused, since one whole character would carry nothing: a copying error.
 */
export function decodeBase32(text: string, field = "the secret"): Buffer {
  let count = 0;
  let padAt = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === SPACE) continue;
    if (c === PAD) {
      if (padAt < 0) padAt = i;
      continue;
    }
    if (c >= 128 || (VALUES[c] as number) < 0) {
      throw invalid(
        `${field} has a character that is not base32 at position ${i + 1}; base32 uses only A-Z and the digits 2-7`,
      );
    }
    if (padAt >= 0) throw invalid(`${field} has '=' padding at position ${padAt + 1}, before its end`);
    count++;
  }
  if (count === 0) throw invalid(`${field} is empty`);
  const spareBits = (count * 5) % 8;
  if (spareBits >= 5) {
    throw invalid(`${field} has ${count} base32 characters, a length no whole number of bytes has; is it complete?`);
  }
  const length = (count * 5 - spareBits) / 8;
  validateSecretLength(length, field);
  const out = Buffer.alloc(length);
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < text.length && j < out.length; i++) {
    const v = VALUES[text.charCodeAt(i)];
    if (v === undefined || v < 0) continue;
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = acc >>> bits;
    }
  }
  return out;
}
