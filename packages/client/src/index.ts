export { status } from "@grpc/grpc-js";
export * from "@totp-custody/contract";
export type { CallOptions, TotpClient } from "./createTotpClient.js";
export { createTotpClient } from "./createTotpClient.js";
export type { TotpClientOptions } from "./options.js";
export { clientOptionsFromEnv } from "./options.js";
export { TotpClientError } from "./TotpClientError.js";
