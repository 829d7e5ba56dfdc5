// The contract's label rule (design.md, "The contract"). totp-core checks it too, but the bots must not import the
// service: this is the chat side's one copy, so a bad label gets its answer before any call.
const LABEL = /^[a-z0-9][a-z0-9._-]{0,47}$/;

/** Fits Telegram's 64-byte callback data next to an action prefix, and is a single Vault path segment. */
export const MAX_LABEL_LENGTH = 48;

/** Whether `label` is a valid label name. */
export function isLabel(label: string): boolean {
  return LABEL.test(label) && !label.includes("..");
}

/**
 * Why `label` is not a valid label, or undefined when it is. The reason never repeats the label: a user who puts a
 * seed where the label goes must not see it echoed into the chat.
 */
export function labelProblem(label: string): string | undefined {
  if (isLabel(label)) return undefined;
  if (label.length === 0) return "a label is needed";
  if (label.length > MAX_LABEL_LENGTH) return `a label has at most ${MAX_LABEL_LENGTH} characters`;
  for (let i = 0; i < label.length; i++) {
    const c = label.charAt(i);
    if (/[a-z0-9]/.test(c)) continue;
    if (/[A-Z]/.test(c)) return "labels are lower-case";
    if (i === 0) return "a label starts with a lower-case letter or a digit";
    if (/\s/.test(c)) return "a label has no spaces";
    if (!/[._-]/.test(c)) return "a label has only a-z, 0-9, '.', '_' and '-'";
    if (c === "." && label.charAt(i - 1) === ".") return "a label has no '..'";
  }
  return "a label is 1 to 48 of a-z, 0-9, '.', '_' and '-'";
}
