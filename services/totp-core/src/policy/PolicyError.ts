/**
 * A policy file that cannot be used. A configuration error for the operator (at start or on reload), never an RPC
 * answer, so it is deliberately not a TotpError: its message names the file, the key and the offending value.
 */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
}
