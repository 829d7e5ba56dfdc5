import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { invalid, TotpError } from "../errors.js";
import type { HashAlgorithm, SeedInput, SeedParams } from "../seed.js";
import { queryParams } from "./queryParams.js";
import { DEFAULT_PERIOD, validateSecretLength, validateSeedParams } from "./seedParams.js";
import { splitIssuerAccount } from "./splitIssuerAccount.js";
import { splitUri } from "./splitUri.js";

/** One account of a Google Authenticator export, by its 0-based position: a seed to store, or why it cannot be. */
export type MigrationEntry =
  | { index: number; name: string; seed: SeedInput }
  | { index: number; name: string; reason: string };

/** OtpParameters as Google Authenticator writes it (its `migration.proto`); counter (7) is skipped: no HOTP yet. */
interface OtpParameters {
  secret: Uint8Array;
  name: string;
  issuer: string;
  algorithm: number;
  digits: number;
  type: number;
}

/** OtpParameters.Algorithm: 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5. */
const ALGORITHMS: Readonly<Record<number, HashAlgorithm>> = { 0: "SHA1", 1: "SHA1", 2: "SHA256", 3: "SHA512" };
const ALGORITHM_MD5 = 4;
/** OtpParameters.DigitCount: 0 unspecified, 1 SIX, 2 EIGHT. */
const DIGITS: Readonly<Record<number, number>> = { 0: 6, 1: 6, 2: 8 };
/** OtpParameters.OtpType: 0 unspecified, 1 HOTP, 2 TOTP. */
const TYPE_HOTP = 1;
const TYPE_TOTP = 2;
const TYPE_UNSPECIFIED = 0;

const MALFORMED = "the data parameter is not a Google Authenticator export: its protobuf payload is malformed";

/**
 * Reads one batch of a Google Authenticator export, `otpauth-migration://offline?data=<base64 MigrationPayload>`.
 * A URI that cannot be read at all throws INVALID_ARGUMENT; entries we cannot serve (HOTP, MD5, bad secrets) come
 * back one by one with their reason, so that the others can still be imported.
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
  const accounts: OtpParameters[] = [];
  try {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1) {
        expectWireType(wireType, WireType.LengthDelimited);
        accounts.push(decodeOtpParameters(reader.bytes()));
      } else {
        // version, batch_size, batch_index, batch_id: one batch is imported on its own, so none of them matter.
        reader.skip(wireType, field);
      }
    }
  } catch (err) {
    if (err instanceof TotpError) throw err;
    throw new TotpError("INVALID_ARGUMENT", MALFORMED, { cause: err });
  }
  return accounts;
}

function decodeOtpParameters(bytes: Uint8Array): OtpParameters {
  const p: OtpParameters = { secret: new Uint8Array(), name: "", issuer: "", algorithm: 0, digits: 0, type: 0 };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case 1:
        expectWireType(wireType, WireType.LengthDelimited);
        p.secret = reader.bytes();
        break;
      case 2:
        expectWireType(wireType, WireType.LengthDelimited);
        p.name = reader.string();
        break;
      case 3:
        expectWireType(wireType, WireType.LengthDelimited);
        p.issuer = reader.string();
        break;
      case 4:
        expectWireType(wireType, WireType.Varint);
        p.algorithm = reader.int32();
        break;
      case 5:
        expectWireType(wireType, WireType.Varint);
        p.digits = reader.int32();
        break;
      case 6:
        expectWireType(wireType, WireType.Varint);
        p.type = reader.int32();
        break;
      default:
        reader.skip(wireType, field);
    }
  }
  return p;
}

/** A known field with another wire type is damage, not a newer schema: reading on would misinterpret bytes. */
function expectWireType(actual: WireType, expected: WireType): void {
  if (actual !== expected) throw invalid(MALFORMED);
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
  if (p.type === TYPE_HOTP) throw invalid("HOTP (counter-based) seeds are not supported yet");
  if (p.type !== TYPE_TOTP && p.type !== TYPE_UNSPECIFIED) throw invalid(`the OTP type ${p.type} is unknown`);
  if (p.algorithm === ALGORITHM_MD5) throw invalid("the algorithm MD5 is not supported");
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
