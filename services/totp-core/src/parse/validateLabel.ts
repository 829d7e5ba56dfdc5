import { invalid } from "../errors.js";
import { isLabelName, LABEL_NAME_RULE } from "../policy/labelName.js";

/** Fits Telegram's 64-byte callback data next to a command and is a single Vault path segment. */
export const MAX_LABEL_LENGTH = 48;

/**
 * Checks a label against `^[a-z0-9][a-z0-9._-]{0,47}$` without `..` (a path segment must not climb), and answers it.
 * `field` names the request field in messages. Labels are not secrets, so the offending character is shown.
 */
export function validateLabel(label: string, field = "label"): string {
  // The rule itself lives in one place; the checks below only explain a refusal.
  if (isLabelName(label)) return label;
  if (label.length === 0) throw invalid(`${field} is empty`);
  if (label.length > MAX_LABEL_LENGTH) {
    throw invalid(`${field} is ${label.length} characters long; the limit is ${MAX_LABEL_LENGTH}`);
  }
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    const alnum = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
    if (alnum) continue;
    if (i === 0) throw invalid(`${field} must start with a lower-case letter or a digit, not ${shown(label, i)}`);
    if (c >= 0x41 && c <= 0x5a) {
      throw invalid(`${field} has an upper-case ${shown(label, i)} at position ${i + 1}; labels are lower-case`);
    }
    if (c !== 0x2e && c !== 0x2d && c !== 0x5f) {
      throw invalid(`${field} has ${shown(label, i)} at position ${i + 1}; use only a-z, 0-9, '.', '_' and '-'`);
    }
    if (c === 0x2e && label.charCodeAt(i - 1) === 0x2e) {
      throw invalid(`${field} has '..' at position ${i}; two dots in a row are not allowed`);
    }
  }
  throw invalid(`${field} must be ${LABEL_NAME_RULE}`);
}

/** The character at `i`, quoted when printable ASCII and as a code point otherwise (control characters, emoji). */
function shown(text: string, i: number): string {
  const cp = text.codePointAt(i) as number;
  if (cp === 0x20) return "a space";
  if (cp > 0x20 && cp < 0x7f) return `'${String.fromCharCode(cp)}'`;
  return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
}
