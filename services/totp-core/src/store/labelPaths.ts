import { TotpError } from "../errors.js";
import { isLabelName } from "../policy/labelName.js";
import { principalProblem } from "../policy/principal.js";
import type { LabelRef, Owner } from "../seed.js";

/**
 * A principal as storage sees it. Callers validated it already; stores check again because a principal becomes a
 * path segment, and a bad one there would read or write someone else's data.
 */
export function splitPrincipal(principal: string): { platform: string; id: string } {
  const problem = principalProblem(principal);
  if (problem) throw new TotpError("INVALID_ARGUMENT", `principal cannot own labels: ${problem}`);
  const colon = principal.indexOf(":");
  return { platform: principal.slice(0, colon), id: principal.slice(colon + 1) };
}

/** `shared` or `users/<platform>/<id>`: where an owner's labels live below a store's prefix. */
export function ownerPath(owner: Owner): string {
  if (owner.shared) return "shared";
  const { platform, id } = splitPrincipal(owner.principal);
  return `users/${platform}/${id}`;
}

/** `<ownerPath>/<label>`, refusing a label that is not a single safe path segment. */
export function labelPath(ref: LabelRef): string {
  if (!isLabelName(ref.label)) throw new TotpError("INVALID_ARGUMENT", "label is not a valid label name");
  return `${ownerPath(ref.owner)}/${ref.label}`;
}

/** A key naming one label of one owner, for maps and caches. */
export function refKey(ref: LabelRef): string {
  return ref.owner.shared ? `shared\n${ref.label}` : `user\n${ref.owner.principal}\n${ref.label}`;
}
