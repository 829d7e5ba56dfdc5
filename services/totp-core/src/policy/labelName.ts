// The label rule of the contract (design.md, "The contract"): it fits Telegram callback data and a Vault path segment.
const LABEL = /^[a-z0-9][a-z0-9._-]{0,47}$/;

/** The label rule in words, for error messages. */
export const LABEL_NAME_RULE = "1 to 48 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit, without '..'";

/** Whether `name` is a valid label name. */
export function isLabelName(name: string): boolean {
  return LABEL.test(name) && !name.includes("..");
}
