import { Secret } from "otpauth";

/**
 * Every text form a seed takes on its way through the system, upper-cased for a case-insensitive search: base32 (as
 * callers send it), and its bytes as hex, base64 (as the stores keep it) and base64url. A canary that looked for the
 * base32 text alone would miss a seed logged the way the code holds it. Base64 padding is left off, so that the
 * form is found inside longer base64 text too.
 */
export function secretTraces(secret: string | Uint8Array): string[] {
  const bytes = Buffer.from(typeof secret === "string" ? Secret.fromBase32(secret).bytes : secret);
  const base32 = new Secret({ buffer: new Uint8Array(bytes).buffer }).base32;
  return [base32, bytes.toString("hex"), bytes.toString("base64").replace(/=+$/, ""), bytes.toString("base64url")].map(
    (form) => form.toUpperCase(),
  );
}

/** The traces (from `secretTraces`) that `text` holds, ignoring case; empty when it holds none. */
export function tracesIn(text: string, traces: readonly string[]): string[] {
  const upper = text.toUpperCase();
  return traces.filter((trace) => upper.includes(trace));
}
