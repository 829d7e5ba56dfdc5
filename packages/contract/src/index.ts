import { fileURLToPath } from "node:url";

export * from "./gen/totp/v1/totp.js";

/** The folder holding `totp/v1/totp.proto`, for tools that read the contract from source (grpcurl, reflection). */
export const protoRoot: string = fileURLToPath(new URL("../../../proto", import.meta.url));
