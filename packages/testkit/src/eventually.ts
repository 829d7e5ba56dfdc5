export interface EventuallyOptions {
  /** Only stops a hang; never an assertion about speed. Default 10 s. */
  timeoutMs?: number;
  /** What is awaited, for the error: "the bot's reply". */
  what?: string;
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns a truthy value (which is returned) without throwing; on time out, throws naming
 * `what` and the last error the probe threw.
 */
export async function eventually<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const cause = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out waiting for ${options.what ?? "a condition"}${cause}`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
