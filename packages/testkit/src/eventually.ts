/**
 * Polls `probe` until it answers a value other than undefined or false, and answers that value; a probe that throws
 * is tried again. After `timeoutMs` (a bound against hangs, never a timing requirement) it throws with the last
 * error seen. For what a cluster does a moment later: kube-proxy programs a new Service about a second after it
 * exists.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = "not yet";
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: still not so after ${timeoutMs} ms (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
