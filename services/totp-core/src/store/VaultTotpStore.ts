import { setTimeout as sleep } from "node:timers/promises";
import { type Logger, pino } from "pino";
import { TotpError } from "../errors.js";
import type { CodeWindow, LabelMeta, LabelRef, Owner, SeedInput } from "../seed.js";
import type { TotpKey, VaultClient } from "../vault/VaultClient.js";
import { encodeBase32 } from "./encodeBase32.js";
import { collectPage, type LabelPage, type PageRequest } from "./labelPage.js";
import { labelPath, ownerPath, refKey } from "./labelPaths.js";
import { labelMeta, type SeedCacheOptions } from "./recordSeedStore.js";
import type { SeedStore } from "./SeedStore.js";
import { SingleFlightCache } from "./SingleFlightCache.js";
import { fromStoredMeta, type RecordMeta, toStoredMeta } from "./storedRecord.js";
import { labelExists } from "./storeErrors.js";
import { totpKeyName } from "./totpKeyName.js";

export interface VaultTotpStoreOptions {
  /** The KV v2 mount for label metadata, default "secret". */
  kvMount?: string;
  /** The folder below the KV mount, default "totp"; metadata goes to `<prefix>/meta/...`. */
  prefix?: string;
  /** The TOTP engine's mount, default "totp". */
  totpMount?: string;
}

const STEAM_NEEDS_RECORD_STORE =
  "Steam codes need the kv or file store: the Vault TOTP engine only makes numeric codes";

/**
 * How often an overwrite or a delete that lost a race to another write of the same label goes again, pausing up to
 * attempt x OVERWRITE_BACKOFF_MS in between. Each loss means that another caller's write finished, so only a
 * storm of writes to one label from many replicas at once exhausts it.
 */
const OVERWRITE_ATTEMPTS = 30;
const OVERWRITE_BACKOFF_MS = 5;

const contended = () =>
  new TotpError("UNAVAILABLE", "the label is being registered by other calls at the same time; retry");

/** How often a code read that straddled a time step is repeated before the later step is assumed. */
const STEP_ATTEMPTS = 3;

interface Reading {
  meta: LabelMeta;
  window: CodeWindow;
  /** The KV version of the label's metadata it was read with: an overwrite or deletion changes it. */
  version: number;
}

/**
 * Hardened mode: seeds are imported into the Vault TOTP engine (`<totpMount>/keys/<name>`, name from
 * totpKeyName) and codes come from `<totpMount>/code/<name>`, so this service never holds a seed after
 * registration. The engine keeps no metadata a list could show, so each label also has a KV entry without the seed
 * (`<kvMount>/data/<prefix>/meta/{users/<platform>/<id>|shared}/<label>`); it is written first with check-and-set
 * and is the lock that makes "exactly one concurrent registration wins" hold, and it decides whether a label exists.
 *
 * What the engine cannot do:
 * - Steam codes: refused at registration with FAILED_PRECONDITION.
 * - `nextCode` is "" (the engine only answers the current code), and codes are always those of Vault's clock at
 *   the time of the call: `atMs` is not used. The window (validFrom/validUntil) is that of the step the code came
 *   from, computed from the period and the time around the request.
 * - While two overwrites of one label run at once, a code read between them can come from one caller's key while
 *   the answer shows the other's digits and period; once both are done, key and metadata are the same caller's.
 *   An overwrite and a deletion racing each other also end consistent (remove), in a label that serves codes or
 *   does not exist, and so does a first registration racing either (put).
 *
 * The token needs: `<totpMount>/keys/*` create, update, delete; `<totpMount>/code/*` read; and on the KV mount the
 * rights of the KV store below `<prefix>/meta/`, plus update on `<kvMount>/delete/<prefix>/meta/*` (remove).
 */
export class VaultTotpStore implements SeedStore {
  readonly kind = "vault-totp";
  readonly #client: VaultClient;
  readonly #kvMount: string;
  readonly #metaPrefix: string;
  readonly #totpMount: string;
  /** Metadata and code per label, kept at most until the code's step ends; merges concurrent reads. */
  readonly #cache: SingleFlightCache<Reading>;
  readonly #log: Logger;

  constructor(
    client: VaultClient,
    options: VaultTotpStoreOptions,
    cache: SeedCacheOptions,
    log: Logger = pino({ enabled: false }),
  ) {
    this.#client = client;
    this.#kvMount = options.kvMount ?? "secret";
    this.#metaPrefix = `${options.prefix ?? "totp"}/meta`;
    this.#totpMount = options.totpMount ?? "totp";
    this.#cache = new SingleFlightCache(cache);
    this.#log = log;
  }

  async put(ref: LabelRef, seed: SeedInput, registeredBy: string, overwrite: boolean): Promise<LabelMeta> {
    if (seed.encoding === "steam") throw new TotpError("FAILED_PRECONDITION", STEAM_NEEDS_RECORD_STORE);
    const meta: RecordMeta = {
      algorithm: seed.algorithm,
      digits: seed.digits,
      period: seed.period,
      encoding: seed.encoding,
      issuer: seed.issuer,
      account: seed.account,
      createdAt: new Date(),
      registeredBy,
    };
    const name = totpKeyName(ref);
    const key = {
      key: encodeBase32(seed.secret),
      algorithm: seed.algorithm,
      digits: seed.digits,
      period: seed.period,
      issuer: seed.issuer,
      account_name: seed.account,
    };
    const metaPath = this.#metaPath(ref);
    try {
      if (overwrite) {
        await this.#overwrite(name, key, metaPath, meta);
      } else {
        // The created metadata claims the label (one concurrent registration wins); the key then goes in as an
        // overwrite does, key and then metadata again with check-and-set, so an overwrite that came between the
        // claim and the key cannot be left with this caller's key beside its metadata.
        const created = await this.#client.kvCreate(this.#kvMount, metaPath, toStoredMeta(meta));
        if (created === undefined) throw labelExists(ref.label);
        try {
          await this.#overwrite(name, key, metaPath, meta, created);
        } catch (err) {
          await this.#rollBack(ref, metaPath);
          throw err;
        }
      }
    } finally {
      this.#cache.invalidate(refKey(ref));
    }
    return labelMeta(ref, meta);
  }

  codes(ref: LabelRef, _atMs: number): Promise<Reading | undefined> {
    return this.#cache.get(refKey(ref), () => this.#read(ref), {
      maxAgeMs: (reading) => reading.window.validUntil.getTime() - Date.now(),
      isCurrent: async (reading) =>
        (await this.#client.kvLiveVersion(this.#kvMount, this.#metaPath(ref))) === reading.version,
    });
  }

  async info(ref: LabelRef): Promise<LabelMeta | undefined> {
    const found = await this.#client.kvRead(this.#kvMount, this.#metaPath(ref));
    return found && labelMeta(ref, fromStoredMeta(found.data));
  }

  /** The metadata entries hold no seed: a page reads each of its labels' entries, and nothing of the engine. */
  async page(owner: Owner, request: PageRequest): Promise<LabelPage> {
    const dir = `${this.#metaPrefix}/${ownerPath(owner)}`;
    const names = (after: string, limit: number) => this.#client.kvList(this.#kvMount, dir, { after, limit });
    return collectPage(names, request, (label) => this.info({ label, owner }));
  }

  /**
   * Deletes the key, then the metadata version it read, but only after writing a copy of that version on top with
   * check-and-set: a KV delete keeps the version number, so without the copy an overwrite that read the version
   * before the delete would still pass its check-and-set afterwards, leaving metadata without a key (listed, no
   * codes) or, the other way round, a key without metadata. With it, an overwrite that wrote after this call read
   * makes the copy fail, and the delete starts again (deleting that overwrite's key too); an overwrite that read
   * after the copy fails its own check-and-set and imports its key again after this call deleted it. Deleting the
   * copy's version alone, never "the latest", keeps a later overwrite's metadata. A failure between the steps leaves
   * metadata without a key, which answers NOT_FOUND, and a retry finishes the job.
   */
  async remove(ref: LabelRef): Promise<boolean> {
    const metaPath = this.#metaPath(ref);
    const name = totpKeyName(ref);
    try {
      for (let attempt = 1; attempt <= OVERWRITE_ATTEMPTS; attempt++) {
        const found = await this.#client.kvRead(this.#kvMount, metaPath);
        // Gone after a first attempt deleted its key: another delete finished the job.
        if (!found) return attempt > 1;
        await this.#client.totpDelete(this.#totpMount, name);
        if (await this.#client.kvReplaceAt(this.#kvMount, metaPath, found.data, found.version)) {
          await this.#client.kvDeleteVersion(this.#kvMount, metaPath, found.version + 1);
          return true;
        }
        await sleep(Math.random() * OVERWRITE_BACKOFF_MS * attempt);
      }
      throw contended();
    } finally {
      this.#cache.invalidate(refKey(ref));
    }
  }

  ping(): Promise<void> {
    return this.#client.health();
  }

  async close(): Promise<void> {
    this.#cache.clear();
    this.#client.close();
  }

  async #read(ref: LabelRef): Promise<Reading | undefined> {
    const found = await this.#client.kvRead(this.#kvMount, this.#metaPath(ref));
    if (!found) return undefined;
    const meta = fromStoredMeta(found.data);
    const periodMs = meta.period * 1000;
    for (let attempt = 1; ; attempt++) {
      const before = Date.now();
      const code = await this.#client.totpCode(this.#totpMount, totpKeyName(ref));
      const after = Date.now();
      // Metadata without a key: a registration or a deletion is between its steps, or a rollback failed.
      if (code === undefined) return undefined;
      const step = Math.floor(before / periodMs);
      // Vault's clock picked the step somewhere between `before` and `after`; when they straddle a step boundary,
      // the code could belong to either, so ask again (1 s periods and slow answers make it likely).
      if (step === Math.floor(after / periodMs) || attempt === STEP_ATTEMPTS) {
        const validFromMs = Math.floor(after / periodMs) * periodMs;
        return {
          meta: labelMeta(ref, meta),
          window: {
            code,
            nextCode: "",
            validFrom: new Date(validFromMs),
            validUntil: new Date(validFromMs + periodMs),
          },
          version: found.version,
        };
      }
    }
  }

  /**
   * Imports the key, then writes the metadata with check-and-set on the version seen before the import. Of
   * concurrent overwrites, one whose check-and-set fails lost to another that wrote after it read; it imports its
   * key again and retries on the newer version. So the metadata written last always stands beside the key imported
   * last. Key first: a failure leaves the old metadata beside the old or new key, never metadata without a key.
   * `created`: the version a first registration just created, read by the first attempt instead of asking Vault.
   */
  async #overwrite(name: string, key: TotpKey, metaPath: string, meta: RecordMeta, created?: number): Promise<void> {
    for (let attempt = 1; attempt <= OVERWRITE_ATTEMPTS; attempt++) {
      const version =
        attempt === 1 && created !== undefined ? created : await this.#client.kvVersion(this.#kvMount, metaPath);
      await this.#client.totpImport(this.#totpMount, name, key);
      if (await this.#client.kvReplaceAt(this.#kvMount, metaPath, toStoredMeta(meta), version)) return;
      // A random pause spreads the losers out, so that the next round has fewer contenders.
      await sleep(Math.random() * OVERWRITE_BACKOFF_MS * attempt);
    }
    throw contended();
  }

  async #rollBack(ref: LabelRef, metaPath: string): Promise<void> {
    try {
      await this.#client.kvDelete(this.#kvMount, metaPath);
    } catch (err) {
      this.#log.error(
        { err, label: ref.label, shared: ref.owner.shared },
        "a failed registration left its label metadata behind: the label answers NOT_FOUND until it is removed",
      );
    }
  }

  #metaPath(ref: LabelRef): string {
    return `${this.#metaPrefix}/${labelPath(ref)}`;
  }
}
