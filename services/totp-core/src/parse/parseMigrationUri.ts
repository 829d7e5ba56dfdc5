import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { invalid, TotpError } from "../errors.js";
import {
  MigrationPayload_Algorithm as Algorithm,
  MigrationPayload_DigitCount as DigitCount,
  MigrationPayload,
  type MigrationPayload_OtpParameters as OtpParameters,
  MigrationPayload_OtpType as OtpType,
} from "../gen/googleauth/migration/v1/migration.js";
import type { HashAlgorithm, SeedInput, SeedParams } from "../seed.js";
import { queryParams } from "./queryParams.js";
import { DEFAULT_PERIOD, validateSecretLength, validateSeedParams } from "./seedParams.js";
import { splitIssuerAccount } from "./splitIssuerAccount.js";
import { splitUri } from "./splitUri.js";

/** One account of a Google Authenticator export, by its 0-based position: a seed to store, or why it cannot be. */
export type MigrationEntry =
  | { index: number; name: string; seed: SeedInput }
  | { index: number; name: string; reason: string };

/** Google Authenticator's own defaults for unspecified (0) values: SHA1 and 6 digits. */
const ALGORITHMS: Readonly<Record<number, HashAlgorithm>> = {
  [Algorithm.ALGORITHM_UNSPECIFIED]: "SHA1",
  [Algorithm.SHA1]: "SHA1",
  [Algorithm.SHA256]: "SHA256",
  [Algorithm.SHA512]: "SHA512",
};
const DIGITS: Readonly<Record<number, number>> = {
  [DigitCount.DIGIT_COUNT_UNSPECIFIED]: 6,
  [DigitCount.SIX]: 6,
  [DigitCount.EIGHT]: 8,
};

/**
 * The most entries one import takes. It bounds the work and the audit lines of one call; Google Authenticator puts
 * far fewer accounts in one QR code, and a longer export can be sent in several batches.
 */
export const MAX_IMPORT_ENTRIES = 100;

const MALFORMED = "the data parameter is not a Google Authenticator export: its protobuf payload is malformed";

/**
 * Reads one batch of a Google Authenticator export, `otpauth-migration://offline?data=<base64 MigrationPayload>`.
 * A URI that cannot be read at all throws INVALID_ARGUMENT; entries we cannot serve (HOTP, MD5, bad secrets) come
 * back one by one with their reason, so that the others can still be imported. An export of more than
 * MAX_IMPORT_ENTRIES accounts is refused whole.
 */
export function parseMigrationUri(uri: string): MigrationEntry[] {
  const parts = splitUri(uri);
  if (parts?.scheme === "otpauth") {
    throw invalid("this is a single otpauth:// URI, not an export; register it with RegisterSeed instead");
  }
  if (parts?.scheme !== "otpauth-migration" || parts.host !== "offline" || parts.path !== "") {
    throw invalid("the URI must start with otpauth-migration://offline?data=");
  }
  const data = queryParams(parts.query, parts.queryOffset, ["data"]).get("data");
  if (data === undefined) throw invalid("the data parameter is missing");
  const accounts = decodePayload(base64Bytes(data));
  if (accounts.length === 0) throw invalid("the export holds no accounts");
  if (accounts.length > MAX_IMPORT_ENTRIES) {
    throw invalid(
      `the export holds ${accounts.length} accounts; one import takes at most ${MAX_IMPORT_ENTRIES}: export them in smaller batches`,
    );
  }
  return accounts.map(entry);
}

/**
 * Strict base64 (standard or URL-safe alphabet, padding optional): Buffer.from skips characters it does not know,
 * which would turn a damaged export into garbage instead of an error. A space can only be a `+` that some tool
 * form-decoded, so it is read as one.
 */
function base64Bytes(data: string): Uint8Array {
  if (data.length === 0) throw invalid("the data parameter is empty");
  const text = data.replaceAll(" ", "+").replace(/={1,2}$/, "");
  const bad = /[^A-Za-z0-9+/_-]/.exec(text);
  if (bad) {
    throw invalid(`the data parameter is not base64: unexpected character at position ${bad.index + 1} of the data`);
  }
  // 4n+1 characters hold 6 bits too many for a byte and too few for another: something was cut off.
  if (text.length % 4 === 1) throw invalid("the data parameter is not base64: it is truncated");
  return Buffer.from(text, "base64");
}

function decodePayload(bytes: Uint8Array): OtpParameters[] {
  try {
    checkWireTypes(bytes, PAYLOAD_WIRE_TYPES, ENTRY_WIRE_TYPES);
    // version and the batch fields are not used: each batch (QR code) is imported on its own.
    return MigrationPayload.decode(bytes).otpParameters;
  } catch (err) {
    if (err instanceof TotpError) throw err;
    // The reader's messages ("premature EOF", "invalid varint", ...) hold no payload bytes; they stay in the cause.
    throw new TotpError("INVALID_ARGUMENT", MALFORMED, { cause: err });
  }
}

/**
 * The wire types of the fields we read. The generated decoder is lenient where a reader of secrets should not be:
 * it skips a known field sent with another wire type, stops at a tag of field 0 or an end-group tag, and lets an
 * entry run past its declared length into the next one. Each of those is damage, not a newer schema (reading on
 * would misinterpret bytes), so checkWireTypes walks the payload first and refuses it; fields we do not read
 * (batch fields, counter, unknown ones) may have any valid wire type.
 */
const PAYLOAD_WIRE_TYPES: Readonly<Record<number, WireType>> = { 1: WireType.LengthDelimited };
const ENTRY_WIRE_TYPES: Readonly<Record<number, WireType>> = {
  1: WireType.LengthDelimited, // secret
  2: WireType.LengthDelimited, // name
  3: WireType.LengthDelimited, // issuer
  4: WireType.Varint, // algorithm
  5: WireType.Varint, // digits
  6: WireType.Varint, // type
};

/** Walks one message, field 1 of which holds messages checked against `nested` when it is given. */
function checkWireTypes(
  bytes: Uint8Array,
  wireTypes: Readonly<Record<number, WireType>>,
  nested?: Readonly<Record<number, WireType>>,
): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    const expected = wireTypes[field];
    if (expected !== undefined && expected !== wireType) throw invalid(MALFORMED);
    if (field === 1 && nested !== undefined) checkWireTypes(reader.bytes(), nested);
    else reader.skip(wireType, field);
  }
}

function entry(p: OtpParameters, index: number): MigrationEntry {
  const { issuer, account } = splitIssuerAccount(p.name, p.issuer);
  const name = issuer && account ? `${issuer}:${account}` : issuer || account;
  try {
    return { index, name, seed: seedOf(p, issuer, account) };
  } catch (err) {
    if (err instanceof TotpError) return { index, name, reason: err.message };
    throw err;
  }
}

/** Unspecified (0) type, algorithm and digits are read as the app's own defaults: TOTP, SHA1, 6 digits. */
function seedOf(p: OtpParameters, issuer: string, account: string): SeedInput {
  if (p.type === OtpType.HOTP) throw invalid("HOTP (counter-based) seeds are not supported yet");
  if (p.type !== OtpType.TOTP && p.type !== OtpType.OTP_TYPE_UNSPECIFIED) {
    throw invalid(`the OTP type ${p.type} is unknown`);
  }
  if (p.algorithm === Algorithm.MD5) throw invalid("the algorithm MD5 is not supported");
  const algorithm = ALGORITHMS[p.algorithm];
  if (algorithm === undefined) throw invalid(`the algorithm ${p.algorithm} is unknown`);
  const digits = DIGITS[p.digits];
  if (digits === undefined) throw invalid(`the digit count ${p.digits} is unknown`);
  // Google Authenticator has no period setting: its TOTP seeds are all 30 s.
  const params: SeedParams = { algorithm, digits, period: DEFAULT_PERIOD, encoding: "numeric", issuer, account };
  validateSeedParams(params);
  validateSecretLength(p.secret.length, "the secret");
  // A copy in its own memory: not a view of the whole payload, nor a slice of Node's shared Buffer pool, whose
  // ArrayBuffer other code can reach.
  const secret = Buffer.alloc(p.secret.length);
  secret.set(p.secret);
  return { ...params, secret };
}
