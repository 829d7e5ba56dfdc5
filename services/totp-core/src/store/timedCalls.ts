import type { Metrics } from "../ops/Metrics.js";

/**
 * `target` with the methods named in `ops` timed (and their failures counted) under the store kind `kind`; any
 * other member passes through. It wraps the backend below the seed cache, so the store metrics show the real
 * round trips to Vault or the disk, not cache hits: a hit costs nothing worth a histogram, and counting hits would
 * hide a slow Vault behind thousands of fast answers. A proxy rather than a copy of each method, so the Vault
 * client and the file store share one wrapper; members are bound to `target` because they use private fields.
 */
export function timedCalls<T extends object>(
  target: T,
  kind: string,
  ops: ReadonlyArray<keyof T & string>,
  metrics: Metrics,
): T {
  const timed = new Set<string | symbol>(ops);
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property);
      if (typeof value !== "function") return value;
      if (!timed.has(property)) return value.bind(object);
      return (...args: unknown[]) => metrics.timeStore(kind, String(property), () => value.apply(object, args));
    },
  });
}
