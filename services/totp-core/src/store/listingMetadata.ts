import { fromStoredMeta, type RecordMeta, toStoredMeta } from "./storedRecord.js";

/** The key naming the version a secret's custom metadata describes. */
const DESCRIBES = "describesVersion";

/**
 * A record's metadata (never its secret) as KV v2 custom metadata, which Vault answers with the secret's metadata:
 * a listing describes a label from there without reading the secret. `version` is the secret version it describes.
 * Custom metadata is written after the secret, in a second request that can fail or lose a race to another writer,
 * so it is only believed for the version it names.
 */
export function toListingMetadata(meta: RecordMeta, version: number): Record<string, string> {
  const stored = Object.entries(toStoredMeta(meta)).map(([key, value]) => [key, String(value)]);
  return { ...Object.fromEntries(stored), [DESCRIBES]: String(version) };
}

/**
 * The metadata that custom metadata holds for secret version `version`; undefined when it describes another version
 * or none (written by an earlier totp-core, or its write failed): the caller then reads the secret itself.
 */
export function fromListingMetadata(custom: Record<string, string>, version: number): RecordMeta | undefined {
  if (custom[DESCRIBES] !== String(version)) return undefined;
  return fromStoredMeta({ ...custom, digits: Number(custom.digits), period: Number(custom.period) });
}
