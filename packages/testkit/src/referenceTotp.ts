import * as OTPAuth from "otpauth";
// An implementation none of our code wrote (the otpauth package), for tests that check codes end to end.

/** A fresh random base32 secret: test seeds are made at test time, never written down. */
export const newSecret = (bytes = 20): string => new OTPAuth.Secret({ size: bytes }).base32;

/** The code an independent implementation (the otpauth package) computes for a seed at a moment. */
export function expectedCode(
  secret: string,
  atMs: number,
  options: { algorithm?: string; digits?: number; period?: number } = {},
): string {
  return new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secret),
    algorithm: options.algorithm ?? "SHA1",
    digits: options.digits ?? 6,
    period: options.period ?? 30,
  }).generate({ timestamp: atMs });
}

/** Codes of every time step from `fromMs` to `toMs`: a code read in between is one of these. */
export function codesBetween(
  secret: string,
  fromMs: number,
  toMs: number,
  options: { algorithm?: string; digits?: number; period?: number } = {},
): string[] {
  const stepMs = (options.period ?? 30) * 1000;
  const codes: string[] = [];
  for (let at = Math.floor(fromMs / stepMs) * stepMs; at <= toMs; at += stepMs) {
    codes.push(expectedCode(secret, at, options));
  }
  return codes;
}

/** When the period in which `seed` gives `code` ends (ms), looking from `fromMs` on: the moment that code expires. */
export function periodEndOf(code: string, seed: string, fromMs: number, period: number): number {
  const stepMs = period * 1000;
  const first = Math.floor((fromMs - 1000) / stepMs) * stepMs;
  const step = codesBetween(seed, first, Date.now(), { period }).indexOf(code);
  if (step < 0) throw new Error("the code is of no period since the request");
  return first + (step + 1) * stepMs;
}
