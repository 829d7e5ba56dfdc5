import { status, TotpClientError } from "@totp-custody/client";

/**
 * How long totp-core asked the caller to wait, when it refused a call for a rate limit; undefined for any other
 * error. A rate limit's RESOURCE_EXHAUSTED carries `retry-after-ms`; grpc-js's refusal of a message over the core's
 * size limit is the same status without it.
 */
export function rateLimitWait(err: unknown): number | undefined {
  const exhausted = err instanceof TotpClientError && err.code === status.RESOURCE_EXHAUSTED;
  return exhausted ? err.retryAfterMs : undefined;
}
