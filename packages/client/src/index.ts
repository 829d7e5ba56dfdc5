export { status } from "@grpc/grpc-js";
export * from "@totp-custody/contract";
export type { CallOptions, TotpClient } from "./createTotpClient.js";
export { createTotpClient } from "./createTotpClient.js";
export type { TlsFiles, TotpClientFileOptions, TotpClientOptions, TotpConnectionOptions } from "./options.js";
export { clientOptionsFromEnv, tlsFilesFromEnv } from "./options.js";
export { TotpClientError } from "./TotpClientError.js";
