import { BinaryWriter } from "@bufbuild/protobuf/wire";

/** One OtpParameters of Google Authenticator's export; numbers are the raw enum values, so tests can send any. */
export interface MigrationOtp {
  secret: Uint8Array;
  name?: string;
  issuer?: string;
  /** 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5. */
  algorithm?: number;
  /** 0 unspecified, 1 six, 2 eight. */
  digits?: number;
  /** 0 unspecified, 1 HOTP, 2 TOTP. */
  type?: number;
  counter?: bigint;
}

/** A MigrationPayload as the app writes it (version 1, one batch), for building test exports. */
export function encodeMigrationPayload(entries: readonly MigrationOtp[]): Uint8Array {
  const writer = new BinaryWriter();
  for (const e of entries) {
    writer.uint32((1 << 3) | 2).fork();
    writer.uint32((1 << 3) | 2).bytes(e.secret);
    if (e.name !== undefined) writer.uint32((2 << 3) | 2).string(e.name);
    if (e.issuer !== undefined) writer.uint32((3 << 3) | 2).string(e.issuer);
    if (e.algorithm !== undefined) writer.uint32((4 << 3) | 0).int32(e.algorithm);
    if (e.digits !== undefined) writer.uint32((5 << 3) | 0).int32(e.digits);
    if (e.type !== undefined) writer.uint32((6 << 3) | 0).int32(e.type);
    if (e.counter !== undefined) writer.uint32((7 << 3) | 0).int64(e.counter);
    writer.join();
  }
  writer.uint32((2 << 3) | 0).int32(1); // version
  writer.uint32((3 << 3) | 0).int32(1); // batch_size
  writer.uint32((4 << 3) | 0).int32(0); // batch_index
  writer.uint32((5 << 3) | 0).int32(-1_234_567); // batch_id: negative ids occur in real exports
  return writer.finish();
}

/** The export URI the app's QR code holds: the payload in base64, percent-encoded. */
export function migrationUri(entries: readonly MigrationOtp[]): string {
  return `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(encodeMigrationPayload(entries)).toString("base64"))}`;
}
