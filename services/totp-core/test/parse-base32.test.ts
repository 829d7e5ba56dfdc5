import { readTestJson } from "@totp-custody/testkit";
import fc from "fast-check";
import { Secret } from "otpauth";
import { describe, expect, it } from "vitest";
import { decodeBase32 } from "../src/parse/decodeBase32.js";
import { expectInvalid } from "./expectInvalid.js";

const vectors = readTestJson<{ seeds: Record<string, { ascii: string; base32: string }> }>("vectors", "rfc6238.json");

describe("decodeBase32", () => {
  it.each(Object.entries(vectors.seeds))("decodes the RFC 6238 %s seed", (_, { ascii, base32 }) => {
    expect(decodeBase32(base32).toString("ascii")).toBe(ascii);
  });

  it("ignores case, spaces and trailing padding", () => {
    const bytes = Buffer.from("Hello!\xde\xad\xbe\xef", "latin1");
    expect(decodeBase32("JBSWY3DPEHPK3PXP")).toEqual(bytes);
    expect(decodeBase32("jbsw y3dp ehpk 3pxp")).toEqual(bytes);
    expect(decodeBase32("  JBSWY3DPEHPK3PXP====== ")).toEqual(bytes);
  });

  it("accepts non-zero bits after the last byte, as issuers with 26-character secrets need", () => {
    // 26 characters = 130 bits: 16 bytes and two spare bits, here both set (Z = 25 = 0b11001).
    expect(decodeBase32(`${"A".repeat(25)}Z`)).toEqual(Buffer.from([...Array(15).fill(0), 0b110]));
  });

  it.each([
    ["", "the secret is empty"],
    ["   ", "the secret is empty"],
    [
      "JBSWY3DP1HPK3PXP",
      "the secret has a character that is not base32 at position 9; base32 uses only A-Z and the digits 2-7",
    ],
    [
      "JBSW-Y3DP",
      "the secret has a character that is not base32 at position 5; base32 uses only A-Z and the digits 2-7",
    ],
    ["JBSWY3DP=EHPK3PXP", "the secret has '=' padding at position 9, before its end"],
    [
      "JBSWY3DPEHPK3PXPA",
      "the secret has 17 base32 characters, a length no whole number of bytes has; is it complete?",
    ],
    ["JBSWY3DP", "the secret is 5 bytes long once decoded; a secret must be 10 to 128 bytes"],
    ["A".repeat(208), "the secret is 130 bytes long once decoded; a secret must be 10 to 128 bytes"],
  ])("refuses %j", (text, message) => {
    expect(expectInvalid(() => decodeBase32(text))).toBe(message);
  });

  it("accepts exactly 10 and 128 bytes", () => {
    expect(decodeBase32("A".repeat(16))).toHaveLength(10);
    expect(decodeBase32("A".repeat(205))).toHaveLength(128);
  });

  it("names the field and counts positions from 1 in the text as given", () => {
    expect(expectInvalid(() => decodeBase32("ab cd é", "secret_base32"))).toMatch(/^secret_base32 .* position 7;/);
  });

  it("round-trips otpauth's encoding of random secrets, in any case, grouped by spaces (2000 runs)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 128 }), fc.boolean(), (bytes, lower) => {
        const encoded = new Secret({ buffer: new Uint8Array(bytes).buffer }).base32;
        const grouped = (lower ? encoded.toLowerCase() : encoded).replace(/(.{4})/g, "$1 ");
        expect(decodeBase32(grouped)).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});
