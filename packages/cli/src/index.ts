// What `scripts/start.mjs` (npm start) reuses, so the development setup and `totpctl dev-certs` stay one code.
export { clientAddress, DEV_DIR_NAME, devFiles } from "./devLayout.js";
export { devPolicyYaml } from "./devPolicyYaml.js";
export { DEV_CLIENTS, writeDevCerts } from "./writeDevCerts.js";
