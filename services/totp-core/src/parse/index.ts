export { decodeBase32 } from "./decodeBase32.js";
export { labelFromEntry, validateLabelPrefix } from "./labelFromEntry.js";
export { type MigrationEntry, parseMigrationUri } from "./parseMigrationUri.js";
export { parseOtpauthUri } from "./parseOtpauthUri.js";
export { seedFromSpec } from "./seedFromSpec.js";
export { validateLabel } from "./validateLabel.js";
