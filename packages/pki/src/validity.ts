const SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

/**
 * Starts a little in the past: a peer whose clock runs a few minutes behind would otherwise reject a certificate
 * made a moment ago as "not yet valid".
 */
export function validity(notBefore: Date | undefined, notAfter: Date | undefined, days: number) {
  const start = notBefore ?? new Date(Date.now() - SKEW_MS);
  return { notBefore: start, notAfter: notAfter ?? new Date(start.getTime() + days * DAY_MS) };
}
