export interface EventuallyOptions {
  /** A bound against hangs, not a timing requirement. Default 10 s. */
  timeoutMs?: number;
  /** What is awaited, as the failure names it. */
  what?: string;
}

const POLL_MS = 50;

/**
 * Polls `probe` until it returns a truthy value, which it returns. A probe that throws counts as "not yet"; when time
 * runs out the error names `what` and carries the probe's last error.
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out waiting for ${options.what ?? "a condition"} after ${timeoutMs} ms${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
