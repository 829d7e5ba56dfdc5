import { describe, expect, it } from "vitest";
import { decodeBase32 } from "../src/parse/decodeBase32.js";
import { type MigrationEntry, parseMigrationUri } from "../src/parse/parseMigrationUri.js";
import { encodeMigrationPayload, migrationUri } from "./encodeMigrationPayload.js";
import { expectInvalid } from "./expectInvalid.js";

const secret20 = Buffer.from("12345678901234567890", "ascii");
const seedOf = (entry: MigrationEntry | undefined) => {
  if (entry === undefined || !("seed" in entry)) throw new Error(`expected a seed, got ${JSON.stringify(entry)}`);
  return entry.seed;
};

describe("parseMigrationUri: exports published with other decoders", () => {
  it("reads the single-account example of dim13/otpauth and otpauth-migration-decoder", () => {
    const entries = parseMigrationUri(
      "otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8SGEV4YW1wbGU6YWxpY2VAZ29vZ2xlLmNvbRoHRXhhbXBsZTAC",
    );
    expect(entries).toEqual([
      {
        index: 0,
        name: "Example:alice@google.com",
        seed: {
          secret: decodeBase32("JBSWY3DPEHPK3PXP"),
          algorithm: "SHA1",
          digits: 6,
          period: 30,
          encoding: "numeric",
          issuer: "Example",
          account: "alice@google.com",
        },
      },
    ]);
  });

  it("reads the two-account example of the Dart otpauth_migration package (unescaped padding)", () => {
    const entries = parseMigrationUri(
      "otpauth-migration://offline?data=CkMKFD3GyqSCSm0oh2eyMx4gtDFmy4XZEhxBQ01FIENvOmpvaG4uZG9lQGV4YW1wbGUuY29tGgdBQ01FIENvIAEoATACCjUKCkhlbGxvId6tvu8SGEV4YW1wbGU6YWxpY2VAZ29vZ2xlLmNvbRoHRXhhbXBsZSABKAEwAhABGAEgACjn4Pv4Ag==",
    );
    expect(entries.map((e) => [e.index, e.name])).toEqual([
      [0, "ACME Co:john.doe@example.com"],
      [1, "Example:alice@google.com"],
    ]);
    expect(seedOf(entries[0]).secret).toEqual(decodeBase32("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"));
    expect(seedOf(entries[1]).secret).toEqual(decodeBase32("JBSWY3DPEHPK3PXP"));
  });

  it("reads a percent-encoded export with a negative batch id (10-byte varint)", () => {
    const [entry] = parseMigrationUri(
      "otpauth-migration://offline?data=CjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACjr4JKK%2B%2F%2F%2F%2F%2F8B",
    );
    expect(seedOf(entry)).toMatchObject({
      secret: decodeBase32("7KSQL2JTUDIS5EF65KLMRQIIGY"),
      issuer: "raspberrypi",
      account: "pi@raspberrypi",
    });
  });
});

describe("parseMigrationUri: entries", () => {
  it("imports what it can and refuses the rest one by one, with position and reason", () => {
    const entries = parseMigrationUri(
      migrationUri([
        { secret: secret20, name: "GitHub:alice", issuer: "GitHub", algorithm: 1, digits: 1, type: 2 },
        { secret: secret20, name: "counter", algorithm: 1, digits: 1, type: 1, counter: 7n },
        { secret: secret20, name: "old", issuer: "Legacy", algorithm: 4, digits: 1, type: 2 },
        { secret: secret20.subarray(0, 9), name: "short", type: 2 },
        { secret: Buffer.alloc(129), name: "long", type: 2 },
        { secret: secret20, name: "AWS:root", algorithm: 3, digits: 2, type: 2 },
        { secret: secret20, name: "bare" },
        { secret: secret20, name: "odd", type: 3 },
        { secret: secret20, name: "odd", algorithm: 9 },
        { secret: secret20, name: "odd", digits: 3 },
        { secret: secret20, name: "x".repeat(129) },
      ]),
    );
    expect(entries.map((e) => ("seed" in e ? [e.index, e.name, "ok"] : [e.index, e.name, e.reason]))).toEqual([
      [0, "GitHub:alice", "ok"],
      [1, "counter", "HOTP (counter-based) seeds are not supported yet"],
      [2, "Legacy:old", "the algorithm MD5 is not supported"],
      [3, "short", "the secret is 9 bytes long once decoded; a secret must be 10 to 128 bytes"],
      [4, "long", "the secret is 129 bytes long once decoded; a secret must be 10 to 128 bytes"],
      [5, "AWS:root", "ok"],
      [6, "bare", "ok"],
      [7, "odd", "the OTP type 3 is unknown"],
      [8, "odd", "the algorithm 9 is unknown"],
      [9, "odd", "the digit count 3 is unknown"],
      [10, "x".repeat(129), "account is 129 characters long; the limit is 128"],
    ]);
    expect(seedOf(entries[5])).toMatchObject({ algorithm: "SHA512", digits: 8, issuer: "AWS", account: "root" });
    // Unspecified type, algorithm and digits: what Google Authenticator means by them, TOTP SHA1 6.
    expect(seedOf(entries[6])).toMatchObject({ algorithm: "SHA1", digits: 6, period: 30, issuer: "", account: "bare" });
  });

  it("copies each secret into memory of its own", () => {
    const seed = seedOf(parseMigrationUri(migrationUri([{ secret: secret20, type: 2 }]))[0]);
    expect(seed.secret).toEqual(secret20);
    expect(seed.secret.buffer.byteLength).toBe(20);
  });

  it("skips fields it does not know, in the payload and in entries", () => {
    const known = encodeMigrationPayload([{ secret: secret20, name: "a", type: 2 }]);
    // Field 9 (varint 1) appended to the payload, field 15 (fixed32) inside an entry.
    const entry = Buffer.concat([Buffer.from([0x0a, 20]), secret20, Buffer.from([0x7d, 1, 2, 3, 4])]);
    const payload = Buffer.concat([Buffer.from([0x0a, entry.length]), entry, known, Buffer.from([0x48, 1])]);
    const entries = parseMigrationUri(
      `otpauth-migration://offline?data=${encodeURIComponent(payload.toString("base64"))}`,
    );
    expect(entries.map((e) => "seed" in e)).toEqual([true, true]);
  });

  it("reads URL-safe base64, missing padding, and '+' turned into a space by a form decoder", () => {
    const payload = Buffer.from(encodeMigrationPayload([{ secret: Buffer.alloc(20, 0xfb), name: "a", type: 2 }]));
    const standard = payload.toString("base64");
    expect(standard).toMatch(/\+/);
    for (const data of [payload.toString("base64url"), standard.replace(/=+$/, ""), standard.replaceAll("+", " ")]) {
      expect(seedOf(parseMigrationUri(`otpauth-migration://offline?data=${data}`)[0]).secret).toEqual(
        Buffer.alloc(20, 0xfb),
      );
    }
  });
});

describe("parseMigrationUri: unreadable URIs", () => {
  const withData = (bytes: Uint8Array) =>
    `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(bytes).toString("base64"))}`;
  const valid = encodeMigrationPayload([{ secret: secret20, name: "a", type: 2 }]);

  it.each([
    ["", "the URI must start with otpauth-migration://offline?data="],
    ["otpauth-migration://online?data=AAAA", "the URI must start with otpauth-migration://offline?data="],
    ["otpauth-migration://offline/x?data=AAAA", "the URI must start with otpauth-migration://offline?data="],
    [
      "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP",
      "this is a single otpauth:// URI, not an export; register it with RegisterSeed instead",
    ],
    ["otpauth-migration://offline", "the data parameter is missing"],
    ["otpauth-migration://offline?data=", "the data parameter is empty"],
    [
      "otpauth-migration://offline?data=a%ZZ",
      "the data parameter has a '%' not followed by two hex digits at position 35 of the URI",
    ],
    [
      "otpauth-migration://offline?data=CjEK*Cgo",
      "the data parameter is not base64: unexpected character at position 5 of the data",
    ],
    [
      "otpauth-migration://offline?data=CjE=KCgo",
      "the data parameter is not base64: unexpected character at position 4 of the data",
    ],
    ["otpauth-migration://offline?data=CjEKC", "the data parameter is not base64: it is truncated"],
    ["otpauth-migration://offline?data=EAE%3D", "the export holds no accounts"],
    [
      "otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8",
      "the data parameter is not a Google Authenticator export: its protobuf payload is malformed",
    ],
  ])("refuses %j", (uri, message) => {
    expect(expectInvalid(() => parseMigrationUri(uri))).toBe(message);
  });

  it.each([
    ["a truncated payload", valid.subarray(0, valid.length - 12)],
    ["field 1 as a varint", Uint8Array.from([0x08, 0x01])],
    ["an entry's secret as a varint", Uint8Array.from([0x0a, 0x02, 0x08, 0x01])],
    ["an entry's type as bytes", Uint8Array.from([0x0a, 0x03, 0x32, 0x01, 0x02])],
    ["a tag of field 0", Uint8Array.from([0x02, 0x00])],
    ["wire type 7", Uint8Array.from([0x0f])],
    ["an unterminated group", Uint8Array.from([0x0b, 0x08])],
  ])("refuses %s as malformed", (_, bytes) => {
    expect(expectInvalid(() => parseMigrationUri(withData(bytes)))).toBe(
      "the data parameter is not a Google Authenticator export: its protobuf payload is malformed",
    );
  });
});
