import { Algorithm, Encoding, type SeedSpec } from "@totp-custody/contract";
import { describe, expect, it } from "vitest";
import { seedFromSpec } from "../src/parse/seedFromSpec.js";
import { expectInvalid } from "./expectInvalid.js";

const spec = (fields: Partial<SeedSpec> = {}): SeedSpec => ({
  secretBase32: "JBSWY3DPEHPK3PXP",
  algorithm: Algorithm.ALGORITHM_UNSPECIFIED,
  digits: 0,
  period: 0,
  issuer: "",
  account: "",
  encoding: Encoding.ENCODING_UNSPECIFIED,
  ...fields,
});

describe("seedFromSpec", () => {
  it("fills the zero values with SHA1, 6 digits, 30 s, numeric", () => {
    expect(seedFromSpec(spec())).toEqual({
      secret: Buffer.from("Hello!\xde\xad\xbe\xef", "latin1"),
      algorithm: "SHA1",
      digits: 6,
      period: 30,
      encoding: "numeric",
      issuer: "",
      account: "",
    });
  });

  it("keeps what is given", () => {
    expect(
      seedFromSpec(
        spec({
          algorithm: Algorithm.ALGORITHM_SHA512,
          digits: 8,
          period: 86_400,
          issuer: "ACME",
          account: "ops@acme",
          encoding: Encoding.ENCODING_NUMERIC,
        }),
      ),
    ).toMatchObject({ algorithm: "SHA512", digits: 8, period: 86_400, issuer: "ACME", account: "ops@acme" });
    expect(seedFromSpec(spec({ algorithm: Algorithm.ALGORITHM_SHA256 })).algorithm).toBe("SHA256");
  });

  it("gives Steam seeds 5 characters, from 0 or 5", () => {
    expect(seedFromSpec(spec({ encoding: Encoding.ENCODING_STEAM }))).toMatchObject({ encoding: "steam", digits: 5 });
    expect(seedFromSpec(spec({ encoding: Encoding.ENCODING_STEAM, digits: 5 })).digits).toBe(5);
  });

  it.each([
    [{ secretBase32: "" }, "secret_base32 is empty"],
    [
      { secretBase32: "JBSWY3DP!HPK3PXP" },
      "secret_base32 has a character that is not base32 at position 9; base32 uses only A-Z and the digits 2-7",
    ],
    [
      { algorithm: Algorithm.UNRECOGNIZED },
      "algorithm -1 is not one of ALGORITHM_SHA1, ALGORITHM_SHA256, ALGORITHM_SHA512",
    ],
    [{ algorithm: 4 as Algorithm }, "algorithm 4 is not one of ALGORITHM_SHA1, ALGORITHM_SHA256, ALGORITHM_SHA512"],
    [{ encoding: 7 as Encoding }, "encoding 7 is not one of ENCODING_NUMERIC, ENCODING_STEAM"],
    [{ digits: 7 }, "digits is 7; codes have 6 or 8 digits"],
    [{ digits: 5 }, "digits is 5; codes have 6 or 8 digits"],
    [
      { digits: 6, encoding: Encoding.ENCODING_STEAM },
      "digits is 6, but Steam codes always have 5 characters; give 5 or leave it out",
    ],
    [{ period: 86_401 }, "period is 86401; it must be a whole number of seconds from 1 to 86400"],
    [{ period: -5 }, "period is -5; it must be a whole number of seconds from 1 to 86400"],
    [{ issuer: "x".repeat(129) }, "issuer is 129 characters long; the limit is 128"],
    [{ account: "a\u0007b" }, "account has a control character at position 2"],
    [{ account: "ab\u202ec" }, "account has a bidirectional control character (U+202E) at position 3"],
    [{ issuer: "\u2066x" }, "issuer has a bidirectional control character (U+2066) at position 1"],
    [{ issuer: "x\u200f" }, "issuer has a bidirectional control character (U+200F) at position 2"],
    [{ account: "\u061c" }, "account has a bidirectional control character (U+061C) at position 1"],
  ])("refuses %j", (fields, message) => {
    expect(expectInvalid(() => seedFromSpec(spec(fields)))).toBe(message);
  });
});
