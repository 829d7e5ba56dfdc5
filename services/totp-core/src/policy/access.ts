import type { LabelRef } from "../seed.js";
import type { Policy } from "./Policy.js";
import type { Caller } from "./resolveCaller.js";

/** Where a label lives for a caller, and what the caller may do with it. */
export interface LabelAccess {
  readonly ref: LabelRef;
  readonly canRead: boolean;
  /** May register, overwrite and delete it. */
  readonly canManage: boolean;
}

/**
 * What `caller` may do with `label`. The policy alone decides whether a label is shared; any other name is a
 * personal label of the caller, so it resolves to the caller's own ref: another principal's personal label of the
 * same name is a different ref that no caller but its owner can reach.
 */
export function labelAccess(policy: Policy, caller: Caller, label: string): LabelAccess {
  const shared = policy.shared.get(label);
  if (shared === undefined) return { ref: personalRef(caller, label), canRead: true, canManage: true };
  return {
    ref: { label, owner: { shared: true } },
    // Readers include the managers, and admins manage everything.
    canRead: caller.admin || shared.readers.has(caller.principal),
    canManage: caller.admin || shared.managers.has(caller.principal),
  };
}

/** The caller's own label of that name, whether or not the policy makes the name a team label's. */
export function personalRef(caller: Caller, label: string): LabelRef {
  return { label, owner: { shared: false, principal: caller.principal } };
}

/** Whether `caller` may register personal labels: when the policy allows self-service, or for an admin. */
export function canRegisterPersonal(policy: Policy, caller: Caller): boolean {
  return policy.selfService || caller.admin;
}

/** The shared labels `caller` may read, sorted: what ListLabels shows besides the caller's personal labels. */
export function readableShared(policy: Policy, caller: Caller): readonly string[] {
  return caller.admin ? policy.sharedLabels : (policy.sharedByReader.get(caller.principal) ?? []);
}
