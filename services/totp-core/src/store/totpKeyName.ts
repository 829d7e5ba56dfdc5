import { TotpError } from "../errors.js";
import { isLabelName } from "../policy/labelName.js";
import type { LabelRef } from "../seed.js";
import { splitPrincipal } from "./labelPaths.js";

/*
 * The engine takes key names that start and end with a letter, digit or '_' and hold only those, '.', '-' and '@'
 * in between (OpenBao's GenericNameWithAtRegex). Labels may end with '.' or '-', so a name cannot end with the
 * label; and no label, platform or principal id holds '@', which makes it the one unambiguous separator:
 *   shared label:   <label>@shared
 *   personal label: <label>@<id>@<platform>      e.g. github@123@telegram
 * Platforms are lower-case words other than "shared", and ids start and end with a letter or digit.
 */
const SHARED = "shared";

/** The TOTP engine's key name for a label: derived from owner and label, and reversible (labelRefOfTotpKey). */
export function totpKeyName(ref: LabelRef): string {
  if (!isLabelName(ref.label)) throw new TotpError("INVALID_ARGUMENT", "label is not a valid label name");
  if (ref.owner.shared) return `${ref.label}@${SHARED}`;
  const { platform, id } = splitPrincipal(ref.owner.principal);
  return `${ref.label}@${id}@${platform}`;
}

/** The label a key name stands for, or undefined for a name this service did not make (for operators' tools). */
export function labelRefOfTotpKey(name: string): LabelRef | undefined {
  const parts = name.split("@");
  const [label, second, third] = parts;
  if (label === undefined || !isLabelName(label)) return undefined;
  if (parts.length === 2 && second === SHARED) return { label, owner: { shared: true } };
  if (parts.length !== 3 || third === undefined || third === SHARED) return undefined;
  const ref: LabelRef = { label, owner: { shared: false, principal: `${third}:${second}` } };
  try {
    return totpKeyName(ref) === name ? ref : undefined;
  } catch {
    return undefined;
  }
}
