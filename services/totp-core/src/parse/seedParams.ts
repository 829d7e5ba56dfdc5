import { invalid } from "../errors.js";
import type { CodeEncoding, SeedParams } from "../seed.js";

/** The Key URI format's default time step, also used when a SeedSpec leaves the period at 0. */
export const DEFAULT_PERIOD = 30;
/** The digits a seed gets when none are given: RFC 6238's usual 6, and Steam's fixed 5. */
export const DEFAULT_DIGITS: Readonly<Record<CodeEncoding, number>> = { numeric: 6, steam: 5 };

const MAX_PERIOD = 86_400;
/** Long enough for any real issuer or e-mail address, short enough to show in a chat message. */
const MAX_NAME_LENGTH = 128;
/** RFC 4226 asks for at least 128 bits; 80 bits (10 bytes) is what most issuers hand out. */
const MIN_SECRET_BYTES = 10;
/** A whole SHA-512 block: longer keys are hashed down by HMAC anyway, so more would only cost storage. */
const MAX_SECRET_BYTES = 128;

/** Checks what every seed source shares: digits for the encoding, the period, and displayable issuer/account. */
export function validateSeedParams(params: SeedParams): void {
  const { digits, encoding, period } = params;
  if (encoding === "steam") {
    if (digits !== DEFAULT_DIGITS.steam) {
      throw invalid(`digits is ${digits}, but Steam codes always have 5 characters; give 5 or leave it out`);
    }
  } else if (digits !== 6 && digits !== 8) {
    throw invalid(`digits is ${digits}; codes have 6 or 8 digits`);
  }
  if (!Number.isInteger(period) || period < 1 || period > MAX_PERIOD) {
    throw invalid(`period is ${period}; it must be a whole number of seconds from 1 to ${MAX_PERIOD}`);
  }
  validateName(params.issuer, "issuer");
  validateName(params.account, "account");
}

/** Checks a secret's decoded size; `field` names where it came from. The size alone reveals nothing useful. */
export function validateSecretLength(bytes: number, field: string): void {
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw invalid(
      `${field} is ${bytes} bytes long once decoded; a secret must be ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`,
    );
  }
}

function validateName(value: string, field: string): void {
  if (value.length > MAX_NAME_LENGTH) {
    throw invalid(`${field} is ${value.length} characters long; the limit is ${MAX_NAME_LENGTH}`);
  }
  // Control characters would garble chat messages and log lines that show the name.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  const control = /[\u0000-\u001f\u007f-\u009f]/.exec(value);
  if (control) throw invalid(`${field} has a control character at position ${control.index + 1}`);
  // Bidirectional controls reorder what follows them on screen, so "paypal.com" can be made to read as another
  // name in a chat message or in totpctl's table: refused, named by code point (they are invisible).
  const bidi = BIDI_CONTROL.exec(value);
  if (bidi) {
    const codePoint = `U+${(bidi[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    throw invalid(`${field} has a bidirectional control character (${codePoint}) at position ${bidi.index + 1}`);
  }
}

/** The embeddings, overrides and isolates (U+202A-202E, U+2066-2069) and the marks (U+200E/F, U+061C). */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;
