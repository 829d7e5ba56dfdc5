export { canRegisterPersonal, type LabelAccess, labelAccess, personalRef, readableShared } from "./access.js";
export { isLabelName, LABEL_NAME_RULE } from "./labelName.js";
export type { ClientRule, Policy, SharedLabel } from "./Policy.js";
export { PolicyError } from "./PolicyError.js";
export { PolicyWatcher, type PolicyWatcherOptions } from "./PolicyWatcher.js";
export { parsePolicy } from "./parsePolicy.js";
export { type Platform, principalProblem } from "./principal.js";
export { type Caller, clientRule, resolveCaller } from "./resolveCaller.js";
