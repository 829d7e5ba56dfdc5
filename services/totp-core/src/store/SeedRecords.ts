import type { LabelRef, Owner, SeedRecord } from "../seed.js";
import type { NameSource } from "./labelPage.js";
import type { RecordMeta } from "./storedRecord.js";

/**
 * The storage half of a store that keeps whole seed records (Vault KV, the encrypted file). recordSeedStore turns
 * one into a SeedStore, adding what both share: codes computed here, metadata, and the seed cache.
 */
export interface SeedRecords {
  readonly kind: string;
  read(ref: LabelRef): Promise<SeedRecord | undefined>;
  /**
   * For a backend that other replicas write too: whether `record`, as read() answered it, is still the label's live
   * version, asked more cheaply than a read (KV v2 metadata). The seed cache asks it to bound how long a change made
   * elsewhere goes unseen.
   */
  isCurrent?(ref: LabelRef, record: SeedRecord): Promise<boolean>;
  /**
   * Stores a record. Without `overwrite`, answers false when the label exists; of concurrent creations of one
   * label exactly one answers true.
   */
  write(ref: LabelRef, record: SeedRecord, overwrite: boolean): Promise<boolean>;
  /** False when the label did not exist. */
  remove(ref: LabelRef): Promise<boolean>;
  /**
   * Names of one owner's labels after `after`, a window of at least `limit` unless complete (see NameSource). May
   * name labels deleted since and names that are not labels at all: a listing describes each before it shows it.
   */
  labels(owner: Owner, after: string, limit: number): ReturnType<NameSource>;
  /** A label's metadata, read without its seed where the backend allows; undefined when it does not exist. */
  describe(ref: LabelRef): Promise<RecordMeta | undefined>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
