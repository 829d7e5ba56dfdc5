import { invalid } from "../errors.js";
import { MAX_LABEL_LENGTH, validateLabel } from "./validateLabel.js";

/** Leaves at least 16 characters of each label for the entry's own name. */
const MAX_PREFIX_LENGTH = 32;
/** For entries whose issuer and account have no character a label can use (empty, or all non-Latin). */
const FALLBACK = "otp";

/** Checks ImportSeeds' `label_prefix`: empty, or label characters leaving room for each entry's own name. */
export function validateLabelPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  validateLabel(prefix, "label_prefix");
  if (prefix.length > MAX_PREFIX_LENGTH) {
    throw invalid(`label_prefix is ${prefix.length} characters long; the limit is ${MAX_PREFIX_LENGTH}`);
  }
  return prefix;
}

/**
 * A valid label for an imported entry: `prefix` followed by `issuer-account` lower-cased, every other character
 * turned into `-` (runs collapsed), cut to 48 characters. Two entries may map to the same label; storing the second
 * then reports the clash for that entry. Throws INVALID_ARGUMENT when `prefix` is not made of label characters.
 */
export function labelFromEntry(prefix: string, issuer: string, account: string): string {
  validateLabelPrefix(prefix);
  const name = [issuer, account]
    .filter((part) => part !== "")
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/^[^a-z0-9]+/, "");
  // A label must start with a letter or digit (the prefix does, or the name was trimmed to one); the end is trimmed
  // of separators, which cutting can leave behind.
  return (prefix + (name || FALLBACK)).slice(0, MAX_LABEL_LENGTH).replace(/[._-]+$/, "");
}
