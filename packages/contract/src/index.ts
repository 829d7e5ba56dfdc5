import { fileURLToPath } from "node:url";

export * from "./gen/totp/v1/totp.js";

/** The folder holding `totp/v1/totp.proto`, for tools that read the contract from source (grpcurl, reflection). */
export const protoRoot: string = fileURLToPath(new URL("../../../proto", import.meta.url));
// Shared by totp-core (nothing that looks like a seed goes into its audit log) and the chat bots (a message that
// holds one is deleted): one definition, so the two cannot drift apart.
export { looksLikeSeed } from "./looksLikeSeed.js";
