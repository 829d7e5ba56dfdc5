import { codeWindow } from "../otp/codeWindow.js";
import type { CodeWindow, LabelMeta, LabelRef, SeedInput, SeedRecord } from "../seed.js";
import { collectPage } from "./labelPage.js";
import { refKey } from "./labelPaths.js";
import type { SeedRecords } from "./SeedRecords.js";
import type { SeedStore } from "./SeedStore.js";
import { SingleFlightCache, type SingleFlightCacheOptions } from "./SingleFlightCache.js";
import type { RecordMeta } from "./storedRecord.js";
import { labelExists } from "./storeErrors.js";

/** The seed cache's settings: TTL (how long a decrypted seed stays in memory), freshness interval, channel. */
export type SeedCacheOptions = SingleFlightCacheOptions;

/** A label's metadata as ListLabels shows it; the owner of a shared label is whoever registered it last. */
export function labelMeta(ref: LabelRef, record: RecordMeta): LabelMeta {
  return {
    label: ref.label,
    owner: ref.owner.shared ? record.registeredBy : ref.owner.principal,
    shared: ref.owner.shared,
    createdAt: record.createdAt,
    algorithm: record.algorithm,
    digits: record.digits,
    period: record.period,
    encoding: record.encoding,
    issuer: record.issuer,
    account: record.account,
  };
}

/**
 * A SeedStore over a backend that keeps whole records: codes are computed here with the OTP engine, and reads go
 * through one seed cache whatever the backend, so every such store caches and merges concurrent misses alike.
 */
export function recordSeedStore(records: SeedRecords, cacheOptions: SeedCacheOptions): SeedStore {
  const cache = new SingleFlightCache<SeedRecord>(cacheOptions);
  const { isCurrent } = records;
  // Only a backend that other processes write (Vault) can change behind the cache's back.
  const read = (ref: LabelRef) =>
    cache.get(
      refKey(ref),
      () => records.read(ref),
      isCurrent && { isCurrent: (record: SeedRecord) => isCurrent.call(records, ref, record) },
    );
  /**
   * A label's answer for the time step last asked, so that its HMACs run once per step, not once per call. Keyed
   * by the cached record: the codes leave memory with their seed, and a re-registered label (a new record) never
   * answers the old seed's codes. Answers are shared between calls and must not be changed.
   */
  const answers = new WeakMap<SeedRecord, { meta: LabelMeta; window: CodeWindow }>();

  return {
    kind: records.kind,

    async put(ref: LabelRef, seed: SeedInput, registeredBy: string, overwrite: boolean): Promise<LabelMeta> {
      const record: SeedRecord = { ...seed, createdAt: new Date(), registeredBy };
      try {
        if (!(await records.write(ref, record, overwrite))) throw labelExists(ref.label);
      } finally {
        // Also after a failed write: it may have reached the backend before the error.
        cache.invalidate(refKey(ref));
      }
      return labelMeta(ref, record);
    },

    async codes(ref: LabelRef, atMs: number) {
      const record = await read(ref);
      if (!record) return undefined;
      let answer = answers.get(record);
      if (!answer || atMs < answer.window.validFrom.getTime() || atMs >= answer.window.validUntil.getTime()) {
        answer = { meta: labelMeta(ref, record), window: codeWindow(record, atMs) };
        answers.set(record, answer);
      }
      return answer;
    },

    async info(ref: LabelRef) {
      const record = await read(ref);
      return record && labelMeta(ref, record);
    },

    async page(owner, request) {
      // Not through the seed cache: a listing needs no seed, and must not bring thousands into memory.
      const names = (after: string, limit: number) => records.labels(owner, after, limit);
      return collectPage(names, request, async (label) => {
        const meta = await records.describe({ label, owner });
        return meta && labelMeta({ label, owner }, meta);
      });
    },

    async remove(ref: LabelRef): Promise<boolean> {
      try {
        return await records.remove(ref);
      } finally {
        cache.invalidate(refKey(ref));
      }
    },

    ping: () => records.ping(),

    async close() {
      cache.clear();
      await records.close();
    },
  };
}
