import { type Logger, pino } from "pino";
import type { LabelRef, Owner, SeedRecord } from "../seed.js";
import type { VaultClient } from "../vault/VaultClient.js";
import { labelPath, ownerPath } from "./labelPaths.js";
import { fromListingMetadata, toListingMetadata } from "./listingMetadata.js";
import type { SeedRecords } from "./SeedRecords.js";
import { fromStoredRecord, type RecordMeta, toStoredRecord } from "./storedRecord.js";

export interface VaultKvStoreOptions {
  /** The KV v2 mount, default "secret". */
  kvMount?: string;
  /** The folder below the mount, default "totp". */
  prefix?: string;
}

/**
 * Seed records in Vault KV v2: `<mount>/data/<prefix>/users/<platform>/<id>/<label>` for personal labels and
 * `<mount>/data/<prefix>/shared/<label>` for shared ones, one secret per label with the record's fields as data.
 * Creation uses check-and-set, so the uniqueness of a label holds across replicas; removal deletes the latest
 * version and keeps the earlier ones (per the mount's max_versions) for recovery. Each secret's custom metadata
 * holds the record without its secret (listingMetadata.ts), so that a listing reads metadata only, never a seed;
 * the store owns the custom metadata of its secrets and replaces it at each write.
 *
 * The token needs, below `<mount>/data/<prefix>/`: create, read, update, delete; below
 * `<mount>/metadata/<prefix>/`: read, list, update.
 */
export class VaultKvStore implements SeedRecords {
  readonly kind = "vault-kv";
  readonly #client: VaultClient;
  readonly #mount: string;
  readonly #prefix: string;
  /** The KV version each record read() answered came from, for isCurrent(); it goes with the record. */
  readonly #versions = new WeakMap<SeedRecord, number>();
  readonly #log: Logger;

  constructor(client: VaultClient, options: VaultKvStoreOptions = {}, log: Logger = pino({ enabled: false })) {
    this.#client = client;
    this.#mount = options.kvMount ?? "secret";
    this.#prefix = options.prefix ?? "totp";
    this.#log = log;
  }

  async read(ref: LabelRef): Promise<SeedRecord | undefined> {
    const found = await this.#client.kvRead(this.#mount, this.#path(ref));
    if (!found) return undefined;
    const record = fromStoredRecord(found.data);
    this.#versions.set(record, found.version);
    return record;
  }

  async isCurrent(ref: LabelRef, record: SeedRecord): Promise<boolean> {
    const version = this.#versions.get(record);
    return version !== undefined && (await this.#client.kvLiveVersion(this.#mount, this.#path(ref))) === version;
  }

  async write(ref: LabelRef, record: SeedRecord, overwrite: boolean): Promise<boolean> {
    const path = this.#path(ref);
    const data = toStoredRecord(record);
    const version = overwrite
      ? await this.#client.kvReplace(this.#mount, path, data)
      : await this.#client.kvCreate(this.#mount, path, data);
    if (version === undefined) return false;
    // The seed is stored, and a listing reads the secret itself for a label whose custom metadata describes another
    // version: failing the registration on this write would only make its retry answer ALREADY_EXISTS.
    await this.#describeVersion(ref, record, version);
    return true;
  }

  /**
   * A label's metadata from the secret's metadata, without its data. A label written by an earlier totp-core (or
   * whose custom metadata describes another version) is read whole, only its metadata kept, and described for the
   * next listing: labels of the earlier layout cost a seed read once, not at every page.
   */
  async describe(ref: LabelRef): Promise<RecordMeta | undefined> {
    const found = await this.#client.kvMetadata(this.#mount, this.#path(ref));
    if (!found || found.deleted) return undefined;
    const described = fromListingMetadata(found.custom, found.version);
    if (described) return described;
    const record = await this.read(ref);
    const version = record && this.#versions.get(record);
    // A write racing this one may describe a newer version first and be overwritten here: the version tag makes
    // the next listing read the secret again and describe it anew, never show the older version's metadata.
    if (record && version !== undefined) await this.#describeVersion(ref, record, version);
    return record;
  }

  /**
   * Writes the custom metadata describing `version` of a label; a failure is logged, not thrown, as listings read
   * the secret instead. A token without "update" on the metadata path (a policy from before this layout) ends up
   * here at every write.
   */
  async #describeVersion(ref: LabelRef, record: RecordMeta, version: number): Promise<void> {
    try {
      await this.#client.kvSetCustomMetadata(this.#mount, this.#path(ref), toListingMetadata(record, version));
    } catch (err) {
      this.#log.warn(
        { err, label: ref.label, shared: ref.owner.shared },
        "could not describe a label in its custom metadata: listing it reads the secret until it is written again",
      );
    }
  }

  async remove(ref: LabelRef): Promise<boolean> {
    const path = this.#path(ref);
    if (!(await this.#client.kvExists(this.#mount, path))) return false;
    await this.#client.kvDelete(this.#mount, path);
    return true;
  }

  /** LIST names deleted labels too (their metadata stays), and whatever else an operator put in the folder. */
  labels(owner: Owner, after: string, limit: number): Promise<{ names: string[]; complete: boolean }> {
    return this.#client.kvList(this.#mount, `${this.#prefix}/${ownerPath(owner)}`, { after, limit });
  }

  ping(): Promise<void> {
    return this.#client.health();
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  #path(ref: LabelRef): string {
    return `${this.#prefix}/${labelPath(ref)}`;
  }
}
