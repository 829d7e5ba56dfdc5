import * as OTPAuth from "otpauth";

/** One account of a Google Authenticator export. */
export interface MigrationEntry {
  /** The secret in base32, as newSecret() makes it. */
  secret: string;
  name?: string;
  issuer?: string;
  /** OtpType: 1 HOTP, 2 TOTP (default). */
  type?: number;
  /** Algorithm: 1 SHA1 (default), 2 SHA256, 3 SHA512, 4 MD5. */
  algorithm?: number;
  /** DigitCount: 1 six (default), 2 eight. */
  digits?: number;
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return bytes;
}

const field = (number: number, bytes: Uint8Array | number[]) => [
  ...varint((number << 3) | 2),
  ...varint(bytes.length),
  ...bytes,
];
const enumField = (number: number, value: number) => [...varint(number << 3), ...varint(value)];
const utf8 = (text: string) => [...Buffer.from(text)];

/**
 * The `otpauth-migration://offline?data=...` URI of an export of `entries` (one batch), as the app's QR code
 * holds it: a MigrationPayload written field by field in protobuf wire format, so tests need no generated code.
 */
export function migrationUri(entries: readonly MigrationEntry[]): string {
  const payload: number[] = [];
  for (const entry of entries) {
    const otp = [
      ...field(1, OTPAuth.Secret.fromBase32(entry.secret).bytes),
      ...field(2, utf8(entry.name ?? "")),
      ...field(3, utf8(entry.issuer ?? "")),
      ...enumField(4, entry.algorithm ?? 1),
      ...enumField(5, entry.digits ?? 1),
      ...enumField(6, entry.type ?? 2),
    ];
    payload.push(...field(1, otp));
  }
  payload.push(...enumField(2, 1), ...enumField(3, 1), ...enumField(4, 0));
  return `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(payload).toString("base64"))}`;
}
