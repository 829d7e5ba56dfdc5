import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { invalid } from "./errors.js";

// Tokens are bound to the caller and signed with a per-process key: a caller cannot page through someone else's
// listing, and a forged offset is refused rather than trusted. A restart invalidates them; callers start over.
const key = randomBytes(32);

const sign = (principal: string, offset: number) =>
  createHmac("sha256", key).update(`${principal}\n${offset}`).digest().subarray(0, 16);

/** An opaque token for the listing of `principal` resuming at `offset`. */
export function encodePageToken(principal: string, offset: number): string {
  return Buffer.concat([Buffer.from(String(offset)), Buffer.from("."), sign(principal, offset)]).toString("base64url");
}

/** The offset a token resumes at (0 for an empty token); INVALID_ARGUMENT for one not issued to this caller. */
export function decodePageToken(principal: string, token: string): number {
  if (token === "") return 0;
  const raw = Buffer.from(token, "base64url");
  const dot = raw.indexOf(".");
  const offset = Number(raw.subarray(0, Math.max(dot, 0)).toString());
  const mac = raw.subarray(dot + 1);
  const expected = Number.isSafeInteger(offset) && offset > 0 ? sign(principal, offset) : undefined;
  if (!expected || mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
    throw invalid("page_token: not a token this server issued to you (or the server restarted); list from the start");
  }
  return offset;
}
