import type { CodeWindow, SeedInput } from "../seed.js";
import { hotp } from "./hotp.js";

/**
 * The TOTP codes (RFC 6238, T0 = 0) of the time step holding `atMs` (Unix milliseconds) and of the step after it,
 * with the step's bounds, so that a client never has to guess when a code expires.
 */
export function codeWindow(seed: SeedInput, atMs: number): CodeWindow {
  const periodMs = seed.period * 1000;
  const counter = Math.floor(atMs / periodMs);
  const validFromMs = counter * periodMs;
  return {
    code: hotp(seed.secret, counter, seed),
    nextCode: hotp(seed.secret, counter + 1, seed),
    validFrom: new Date(validFromMs),
    validUntil: new Date(validFromMs + periodMs),
  };
}
