import type { Metrics } from "../ops/Metrics.js";
import type { SeedStore } from "./SeedStore.js";

/** The same store, with each operation's duration and failures recorded under the store's kind. */
export function timedSeedStore(store: SeedStore, metrics: Metrics): SeedStore {
  const time = <T>(op: string, run: () => Promise<T>) => metrics.timeStore(store.kind, op, run);
  return {
    kind: store.kind,
    put: (ref, seed, registeredBy, overwrite) => time("put", () => store.put(ref, seed, registeredBy, overwrite)),
    codes: (ref, atMs) => time("codes", () => store.codes(ref, atMs)),
    info: (ref) => time("info", () => store.info(ref)),
    list: (owner) => time("list", () => store.list(owner)),
    remove: (ref) => time("remove", () => store.remove(ref)),
    ping: () => time("ping", () => store.ping()),
    close: () => store.close(),
  };
}
