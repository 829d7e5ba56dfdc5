import { isLabelName } from "../policy/labelName.js";
import type { LabelRef, Owner, SeedRecord } from "../seed.js";
import type { VaultClient } from "../vault/VaultClient.js";
import { labelPath, ownerPath } from "./labelPaths.js";
import type { SeedRecords } from "./SeedRecords.js";
import { fromStoredRecord, toStoredRecord } from "./storedRecord.js";

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
 * version and keeps the earlier ones (per the mount's max_versions) for recovery.
 *
 * The token needs, below `<mount>/data/<prefix>/`: create, read, update, delete; below
 * `<mount>/metadata/<prefix>/`: read, list.
 */
export class VaultKvStore implements SeedRecords {
  readonly kind = "vault-kv";
  readonly #client: VaultClient;
  readonly #mount: string;
  readonly #prefix: string;
  /** The KV version each record read() answered came from, for isCurrent(); it goes with the record. */
  readonly #versions = new WeakMap<SeedRecord, number>();

  constructor(client: VaultClient, options: VaultKvStoreOptions = {}) {
    this.#client = client;
    this.#mount = options.kvMount ?? "secret";
    this.#prefix = options.prefix ?? "totp";
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
    if (!overwrite) return this.#client.kvCreate(this.#mount, path, data);
    await this.#client.kvReplace(this.#mount, path, data);
    return true;
  }

  async remove(ref: LabelRef): Promise<boolean> {
    const path = this.#path(ref);
    if (!(await this.#client.kvExists(this.#mount, path))) return false;
    await this.#client.kvDelete(this.#mount, path);
    return true;
  }

  async list(owner: Owner): Promise<Array<{ label: string; record: SeedRecord }>> {
    const names = await this.#client.kvList(this.#mount, `${this.#prefix}/${ownerPath(owner)}`);
    // Anything else an operator put in the folder is not ours to show.
    const labels = names.filter(isLabelName);
    // LIST names deleted labels too (their metadata stays): a read tells which are alive.
    const found = await Promise.all(
      labels.map(async (label) => ({ label, record: await this.read({ label, owner }) })),
    );
    return found.filter((entry): entry is { label: string; record: SeedRecord } => entry.record !== undefined);
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
