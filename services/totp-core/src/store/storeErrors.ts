import { TotpError } from "../errors.js";

/**
 * A backend that cannot be reached or cannot serve. The message is fixed: what the backend said stays in `cause`,
 * which only the log sees (Vault's messages can echo request data).
 */
export function storeUnavailable(cause: unknown): TotpError {
  return new TotpError("UNAVAILABLE", "seed store unavailable", { cause });
}

export function labelExists(label: string): TotpError {
  return new TotpError("ALREADY_EXISTS", `label ${label} already exists`);
}
