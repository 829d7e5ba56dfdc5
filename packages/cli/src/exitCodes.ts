/**
 * totpctl's exit codes, documented in the README's CLI reference. Scripts branch on them, so a value never
 * changes meaning; a new kind of failure gets a new number.
 */
export const ExitCode = {
  ok: 0,
  /** Bad flags or arguments, missing configuration, a confirmation declined or impossible. */
  usage: 1,
  /** The label does not exist or the caller may not see it (the core answers both alike), or permission denied. */
  notFound: 2,
  /** totp-core cannot be reached, refused the TLS handshake, timed out, or its seed store is down. */
  unavailable: 3,
  /** The core refused the input (bad label, URI or secret), the label already exists, or an import refused entries. */
  invalid: 4,
  /** A rate limit: try again after the delay the message names. */
  rateLimited: 5,
  /** An unexpected failure in totp-core or totpctl. */
  internal: 6,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
