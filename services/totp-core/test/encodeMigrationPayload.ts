import { MigrationPayload } from "../src/gen/googleauth/migration/v1/migration.js";

/** One OtpParameters of Google Authenticator's export; numbers are the raw enum values, so tests can send any. */
export interface MigrationOtp {
  secret: Uint8Array;
  name?: string;
  issuer?: string;
  /** MigrationPayload.Algorithm: 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5. */
  algorithm?: number;
  /** MigrationPayload.DigitCount: 0 unspecified, 1 six, 2 eight. */
  digits?: number;
  /** MigrationPayload.OtpType: 0 unspecified, 1 HOTP, 2 TOTP. */
  type?: number;
  counter?: bigint;
}

/** A MigrationPayload as the app writes it (version 1, one batch), for building test exports. */
export function encodeMigrationPayload(entries: readonly MigrationOtp[]): Uint8Array {
  return MigrationPayload.encode({
    otpParameters: entries.map((e) => ({
      secret: e.secret,
      name: e.name ?? "",
      issuer: e.issuer ?? "",
      algorithm: e.algorithm ?? 0,
      digits: e.digits ?? 0,
      type: e.type ?? 0,
      counter: e.counter ?? 0n,
    })),
    version: 1,
    batchSize: 1,
    batchIndex: 0,
    batchId: -1_234_567, // negative ids occur in real exports
  }).finish();
}

/** The export URI the app's QR code holds: the payload in base64, percent-encoded. */
export function migrationUri(entries: readonly MigrationOtp[]): string {
  return `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(encodeMigrationPayload(entries)).toString("base64"))}`;
}
