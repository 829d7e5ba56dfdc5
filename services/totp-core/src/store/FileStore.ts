import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { open, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { LabelRef, Owner, SeedRecord } from "../seed.js";
import { FileLock } from "./FileLock.js";
import { refKey, splitPrincipal } from "./labelPaths.js";
import type { SeedRecords } from "./SeedRecords.js";
import { fromStoredRecord, type RecordMeta, type StoredRecord, toStoredRecord } from "./storedRecord.js";
import { storeUnavailable } from "./storeErrors.js";

/*
 * File layout: MAGIC (8 bytes) | version (1) | key check (8) | IV (12) | AES-256-GCM ciphertext | tag (16).
 * The first 17 bytes are authenticated data, so a changed version or key check fails like a changed ciphertext.
 * The key check is an HMAC of a constant under the key: it tells a wrong key from a damaged file before decrypting,
 * and reveals nothing about the key.
 */
const MAGIC = Buffer.from("TOTPSEED", "latin1");
const VERSION = 1;
const KEY_CHECK_LENGTH = 8;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const HEADER_LENGTH = MAGIC.length + 1 + KEY_CHECK_LENGTH;
const TMP_INFIX = ".tmp-";

/** A change of the content: applies itself to `entries` and answers whether it changed anything. */
type Change = (entries: Map<string, Entry>) => boolean;

interface Entry {
  label: string;
  owner: Owner;
  record: SeedRecord;
}

/** The decrypted content: one entry per label, with its owner (a principal, or null for a shared label). */
interface Content {
  records: Array<StoredRecord & { label: string; principal: string | null }>;
}

/**
 * Seed records in one local file encrypted with AES-256-GCM, for a laptop or a single node (one process per file,
 * held with a FileLock: it is read once at open, and each save writes it whole). A save is written to a temporary file,
 * flushed to disk, renamed over the old file and the folder flushed, so a crash at any moment leaves the previous or
 * the new content, never a mix; changes are applied in the order asked, those that arrive together saved together.
 * Reads come from memory.
 */
export class FileStore implements SeedRecords {
  readonly kind = "file";
  readonly #path: string;
  readonly #key: Buffer;
  readonly #lock: FileLock;
  #entries: Map<string, Entry>;
  /** The last save under way: the next batch waits for it. It never rejects (each change is told its outcome). */
  #writing: Promise<void> = Promise.resolve();
  /** Changes waiting for the next save. */
  #pending: Array<{ change: Change; resolve: (changed: boolean) => void; reject: (err: unknown) => void }> = [];

  private constructor(path: string, key: Buffer, lock: FileLock, entries: Map<string, Entry>) {
    this.#path = path;
    this.#key = key;
    this.#lock = lock;
    this.#entries = entries;
  }

  /**
   * Opens the file, or creates an empty one. A wrong key or a damaged file refuses to open (a plain Error: this
   * is a startup failure for an operator, not an RPC answer), and so does a file another process holds.
   */
  static async open(path: string, key: Buffer): Promise<FileStore> {
    if (key.length !== 32) throw new Error("the file store key must be 32 bytes (AES-256)");
    const lock = await FileLock.acquire(path);
    try {
      return new FileStore(path, key, lock, await FileStore.#load(path, key));
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  static async #load(path: string, key: Buffer): Promise<Map<string, Entry>> {
    await removeStaleTemporaries(path);
    let sealed: Buffer | undefined;
    try {
      sealed = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (sealed !== undefined) return unseal(sealed, key, path);
    const entries = new Map<string, Entry>();
    // Written at once so the key is bound to the file from the start: a later start with another key refuses.
    await writeAtomically(path, seal(entries, key));
    return entries;
  }

  async read(ref: LabelRef): Promise<SeedRecord | undefined> {
    return this.#entries.get(refKey(ref))?.record;
  }

  write(ref: LabelRef, record: SeedRecord, overwrite: boolean): Promise<boolean> {
    return this.#change((entries) => {
      const key = refKey(ref);
      if (!overwrite && entries.has(key)) return false;
      // Checked before it is stored: the owner's principal must be one a path could hold (see splitPrincipal).
      if (!ref.owner.shared) splitPrincipal(ref.owner.principal);
      entries.set(key, { label: ref.label, owner: ref.owner, record });
      return true;
    });
  }

  remove(ref: LabelRef): Promise<boolean> {
    return this.#change((entries) => entries.delete(refKey(ref)));
  }

  /** Every name at once: they are in memory, and a listing takes those after its cursor. */
  async labels(owner: Owner): Promise<{ names: string[]; complete: boolean }> {
    const mine = (o: Owner) => (owner.shared ? o.shared : !o.shared && o.principal === owner.principal);
    return {
      names: [...this.#entries.values()].filter((e) => mine(e.owner)).map(({ label }) => label),
      complete: true,
    };
  }

  /** From memory, like read(): the whole record, of which a listing keeps the metadata. */
  describe(ref: LabelRef): Promise<RecordMeta | undefined> {
    return this.read(ref);
  }

  /** Always serves once open: the content is in memory and writes report their own failures. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {
    await this.#writing;
    await this.#lock.release();
  }

  /**
   * Applies `change` to a copy of the content and, when it answers true, saves the copy and makes it current: a
   * failed save leaves both the file and the memory as they were. Changes asked for while a save is under way (or in
   * the same event-loop turn, as an import's entries are) wait for it and are then saved together in one write, so
   * that N changes cost one rewrite of the file rather than N.
   */
  #change(change: Change): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ change, resolve, reject });
      if (this.#pending.length === 1) this.#writing = this.#writing.then(() => this.#saveBatch());
    });
  }

  async #saveBatch(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    const next = new Map(this.#entries);
    // A change that throws has changed nothing (it checks before it sets) and fails alone.
    const results = batch.map(({ change, reject }) => {
      try {
        return change(next);
      } catch (err) {
        reject(err);
        return undefined;
      }
    });
    if (results.includes(true)) {
      try {
        await this.#save(next);
      } catch (err) {
        for (const [i, { reject }] of batch.entries()) if (results[i] !== undefined) reject(err);
        return;
      }
      this.#entries = next;
    }
    for (const [i, { resolve }] of batch.entries()) {
      const result = results[i];
      if (result !== undefined) resolve(result);
    }
  }

  async #save(entries: Map<string, Entry>): Promise<void> {
    try {
      await writeAtomically(this.#path, seal(entries, this.#key));
    } catch (err) {
      throw storeUnavailable(err);
    }
  }
}

function keyCheck(key: Buffer): Buffer {
  return createHmac("sha256", key).update("totp-custody file store key check").digest().subarray(0, KEY_CHECK_LENGTH);
}

function seal(entries: Map<string, Entry>, key: Buffer): Buffer {
  const content: Content = {
    records: [...entries.values()].map(({ label, owner, record }) => ({
      label,
      principal: owner.shared ? null : owner.principal,
      ...toStoredRecord(record),
    })),
  };
  const header = Buffer.concat([MAGIC, Buffer.from([VERSION]), keyCheck(key)]);
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(header);
  const body = Buffer.concat([cipher.update(JSON.stringify(content), "utf8"), cipher.final()]);
  return Buffer.concat([header, iv, body, cipher.getAuthTag()]);
}

function unseal(sealed: Buffer, key: Buffer, path: string): Map<string, Entry> {
  const refuse = (why: string) => new Error(`TOTP_FILE_KEY does not decrypt ${path}: ${why}`);
  if (sealed.length < HEADER_LENGTH + IV_LENGTH + TAG_LENGTH || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error(`${path} is not a totp-custody seed file`);
  }
  const version = sealed[MAGIC.length];
  if (version !== VERSION) throw new Error(`${path} has format version ${version}; this build reads ${VERSION}`);
  if (!timingSafeEqual(sealed.subarray(MAGIC.length + 1, HEADER_LENGTH), keyCheck(key))) {
    throw refuse("wrong key or corrupted file");
  }
  const iv = sealed.subarray(HEADER_LENGTH, HEADER_LENGTH + IV_LENGTH);
  const decipher = createDecipheriv("aes-256-gcm", key, iv).setAAD(sealed.subarray(0, HEADER_LENGTH));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  let content: Content;
  try {
    const plain = Buffer.concat([
      decipher.update(sealed.subarray(HEADER_LENGTH + IV_LENGTH, sealed.length - TAG_LENGTH)),
      decipher.final(),
    ]);
    content = JSON.parse(plain.toString("utf8")) as Content;
  } catch {
    // The key check matched, so the key is right and the content was changed or damaged.
    throw refuse("the key matches but the content fails authentication (corrupted file)");
  }
  const entries = new Map<string, Entry>();
  for (const { label, principal, ...stored } of content.records) {
    const owner: Owner = principal === null ? { shared: true } : { shared: false, principal };
    entries.set(refKey({ label, owner }), { label, owner, record: fromStoredRecord(stored) });
  }
  return entries;
}

/** Replaces `path` with `bytes` so that a crash leaves the old or the new file, never a partial one. */
async function writeAtomically(path: string, bytes: Buffer): Promise<void> {
  const tmp = `${path}${TMP_INFIX}${process.pid}-${randomBytes(6).toString("hex")}`;
  try {
    const file = await open(tmp, "wx", 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // The rename itself lives in the folder: flush it too, or a power loss can bring the old file back.
  const folder = await open(dirname(path), "r");
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/** Temporary files left by a writer that was killed mid-write (its process is gone); never a live writer's. */
async function removeStaleTemporaries(path: string): Promise<void> {
  const folder = dirname(path);
  const prefix = `${basename(path)}${TMP_INFIX}`;
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    if (Number.isInteger(pid) && !isAlive(pid)) await rm(join(folder, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
