import { z } from "zod";
import { TotpError } from "../errors.js";
import type { SeedRecord } from "../seed.js";

/** A record without its secret, as the Vault TOTP store keeps it beside the engine's key. */
const storedMeta = z.object({
  algorithm: z.enum(["SHA1", "SHA256", "SHA512"]),
  digits: z.number().int(),
  period: z.number().int().min(1),
  encoding: z.enum(["numeric", "steam"]),
  issuer: z.string(),
  account: z.string(),
  createdAt: z.iso.datetime(),
  registeredBy: z.string(),
});

/**
 * A seed record as JSON fields, as the KV store writes them into a Vault secret and the file store into its file.
 * The secret is base64 (lossless for any byte length, unlike base32 without padding rules).
 */
const storedRecord = storedMeta.extend({ secret: z.base64() });

export type RecordMeta = Omit<SeedRecord, "secret">;
type StoredMeta = z.infer<typeof storedMeta>;
export type StoredRecord = z.infer<typeof storedRecord>;

export function toStoredRecord(record: SeedRecord): StoredRecord {
  return { ...toStoredMeta(record), secret: record.secret.toString("base64") };
}

export function toStoredMeta(record: RecordMeta): StoredMeta {
  return {
    algorithm: record.algorithm,
    digits: record.digits,
    period: record.period,
    encoding: record.encoding,
    issuer: record.issuer,
    account: record.account,
    createdAt: record.createdAt.toISOString(),
    registeredBy: record.registeredBy,
  };
}

/**
 * Reads a stored record back. Data that does not fit is corruption or tampering in the backend, not a caller's
 * mistake: INTERNAL, and the cause names the field but never its value (it could be the secret).
 */
export function fromStoredRecord(data: unknown): SeedRecord {
  const r = parse(storedRecord, data);
  return { ...r, secret: Buffer.from(r.secret, "base64"), createdAt: new Date(r.createdAt) };
}

export function fromStoredMeta(data: unknown): RecordMeta {
  const r = parse(storedMeta, data);
  return { ...r, createdAt: new Date(r.createdAt) };
}

function parse<T>(schema: z.ZodType<T>, data: unknown): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((issue) => issue.path.join(".")).join(", ");
  throw new TotpError("INTERNAL", "stored seed record is malformed", {
    cause: new Error(`stored seed record: bad or missing fields: ${fields}`),
  });
}
