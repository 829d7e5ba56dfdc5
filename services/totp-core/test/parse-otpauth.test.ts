import { describe, expect, it } from "vitest";
import { parseOtpauthUri } from "../src/parse/parseOtpauthUri.js";
import { expectInvalid } from "./expectInvalid.js";

const SECRET = "JBSWY3DPEHPK3PXP";
const SECRET_BYTES = Buffer.from("Hello!\xde\xad\xbe\xef", "latin1");

describe("parseOtpauthUri", () => {
  it("reads Google's Key URI example with the defaults SHA1/6/30", () => {
    expect(parseOtpauthUri(`otpauth://totp/Example:alice@google.com?secret=${SECRET}&issuer=Example`)).toEqual({
      secret: SECRET_BYTES,
      algorithm: "SHA1",
      digits: 6,
      period: 30,
      encoding: "numeric",
      issuer: "Example",
      account: "alice@google.com",
    });
  });

  it("reads every parameter, case-insensitively where the format allows", () => {
    const seed = parseOtpauthUri(
      `OTPAUTH://TOTP/ACME%20Co:john.doe@email.com?Secret=${SECRET.toLowerCase()}&issuer=ACME%20Co` +
        "&algorithm=sha256&digits=8&period=60",
    );
    expect(seed).toMatchObject({ algorithm: "SHA256", digits: 8, period: 60, issuer: "ACME Co" });
    expect(seed.account).toBe("john.doe@email.com");
    expect(seed.secret).toEqual(SECRET_BYTES);
    expect(parseOtpauthUri(`otpauth://totp/x?secret=${SECRET}&algorithm=SHA-512`).algorithm).toBe("SHA512");
  });

  it.each([
    ["Example:alice", "", "Example", "alice"],
    ["Example%3Aalice", "", "Example", "alice"],
    ["Example%3A%20alice", "", "Example", "alice"],
    ["Example: alice", "", "Example", "alice"],
    ["Old:alice", "&issuer=New", "New", "alice"],
    ["alice", "&issuer=Only%20Param", "Only Param", "alice"],
    ["alice", "", "", "alice"],
    ["", "", "", ""],
    ["Caf%C3%A9:j%C3%BCrgen", "", "Café", "jürgen"],
    ["A+B:c", "", "A+B", "c"],
  ])("label %j%s → issuer %j, account %j", (label, extra, issuer, account) => {
    expect(parseOtpauthUri(`otpauth://totp/${label}?secret=${SECRET}${extra}`)).toMatchObject({ issuer, account });
  });

  it("ignores unknown parameters, even undecodable ones, a fragment and surrounding white space", () => {
    const seed = parseOtpauthUri(
      `\n otpauth://totp/a?image=https%3A%2F%2Fx&counter=5&junk=%ZZ&&secret=${SECRET}&=x#frag=%ZZ \r\n`,
    );
    expect(seed.secret).toEqual(SECRET_BYTES);
  });

  it("takes the edges of the period range and empty optional parameters as absent", () => {
    expect(parseOtpauthUri(`otpauth://totp/a?secret=${SECRET}&period=1`).period).toBe(1);
    expect(parseOtpauthUri(`otpauth://totp/a?secret=${SECRET}&period=86400`).period).toBe(86_400);
    expect(parseOtpauthUri(`otpauth://totp/a?secret=${SECRET}&period=&digits=&algorithm=`)).toMatchObject({
      period: 30,
      digits: 6,
      algorithm: "SHA1",
    });
  });

  it.each([
    `otpauth://steam/Steam:gaben?secret=${SECRET}`,
    `otpauth://totp/Steam:gaben?secret=${SECRET}&encoder=steam`,
    `otpauth://totp/Steam:gaben?secret=${SECRET}&encoder=Steam&digits=5`,
  ])("reads Steam Guard seeds: %s", (uri) => {
    expect(parseOtpauthUri(uri)).toMatchObject({ encoding: "steam", digits: 5, issuer: "Steam", account: "gaben" });
  });

  it.each([
    [
      `otpauth://hotp/a?secret=${SECRET}&counter=1`,
      "HOTP (counter-based) seeds are not supported yet; only otpauth://totp/ URIs",
    ],
    [`otpauth://totp/a?issuer=x`, "the secret parameter is missing"],
    [`otpauth://totp/a?secret=&issuer=x`, "the secret parameter is empty"],
    [
      `otpauth://totp/a?secret=JBSWY3DP0HPK3PXP`,
      "the secret parameter has a character that is not base32 at position 9; base32 uses only A-Z and the digits 2-7",
    ],
    [
      `otpauth://totp/a?secret=JBSWY3DP`,
      "the secret parameter is 5 bytes long once decoded; a secret must be 10 to 128 bytes",
    ],
    [`otpauth://totp/a?secret=${SECRET}&secret=${SECRET}`, "the secret parameter appears more than once"],
    [
      `otpauth://totp/a?secret=${SECRET}&algorithm=MD5`,
      "the algorithm MD5 is not supported; use SHA1, SHA256 or SHA512",
    ],
    [
      `otpauth://totp/a?secret=${SECRET}&algorithm=SHA224`,
      "the algorithm parameter is not supported; use SHA1, SHA256 or SHA512",
    ],
    [`otpauth://totp/a?secret=${SECRET}&digits=7`, "digits is 7; codes have 6 or 8 digits"],
    [
      `otpauth://totp/a?secret=${SECRET}&digits=six`,
      "the digits parameter must be a whole number: 6 or 8 (5 for Steam)",
    ],
    [
      `otpauth://steam/a?secret=${SECRET}&digits=6`,
      "digits is 6, but Steam codes always have 5 characters; give 5 or leave it out",
    ],
    [`otpauth://totp/a?secret=${SECRET}&period=0`, "period is 0; it must be a whole number of seconds from 1 to 86400"],
    [
      `otpauth://totp/a?secret=${SECRET}&period=86401`,
      "period is 86401; it must be a whole number of seconds from 1 to 86400",
    ],
    [
      `otpauth://totp/a?secret=${SECRET}&period=30s`,
      "the period parameter must be a whole number: seconds from 1 to 86400",
    ],
    [
      `otpauth://totp/a?secret=${SECRET}&period=-30`,
      "the period parameter must be a whole number: seconds from 1 to 86400",
    ],
    [
      `otpauth://totp/a?secret=${SECRET}&encoder=yandex`,
      "the encoder parameter is not supported; steam is the only one known",
    ],
    [
      `otpauth://motp/a?secret=${SECRET}`,
      "the OTP type (after otpauth://) is not supported; only otpauth://totp/ URIs are",
    ],
    [`otpauth:///a?secret=${SECRET}`, "the otpauth URI has no type; it must start with otpauth://totp/"],
    [`https://example.com/?secret=${SECRET}`, "the URI must start with otpauth://totp/"],
    [SECRET, "the URI must start with otpauth://totp/"],
    [
      "otpauth-migration://offline?data=AAAA",
      "this is a Google Authenticator export (otpauth-migration://); import it with ImportSeeds instead",
    ],
    [
      `otpauth://totp/a%2?secret=${SECRET}`,
      "the label has a '%' not followed by two hex digits at position 17 of the URI",
    ],
    [`otpauth://totp/a%FF?secret=${SECRET}`, "the label is not valid UTF-8 once percent-decoded"],
    [
      `otpauth://totp/a?issuer=%G1&secret=${SECRET}`,
      "the issuer parameter has a '%' not followed by two hex digits at position 25 of the URI",
    ],
    [`otpauth://totp/${"i".repeat(129)}:a?secret=${SECRET}`, "issuer is 129 characters long; the limit is 128"],
    [`otpauth://totp/a?secret=${SECRET}&issuer=${"i".repeat(129)}`, "issuer is 129 characters long; the limit is 128"],
    [`otpauth://totp/x:${"a".repeat(129)}?secret=${SECRET}`, "account is 129 characters long; the limit is 128"],
    [`otpauth://totp/x:a%0Ab?secret=${SECRET}`, "account has a control character at position 2"],
  ])("refuses %s", (uri, message) => {
    expect(expectInvalid(() => parseOtpauthUri(uri))).toBe(message);
  });

  it("refuses URIs longer than 4096 characters", () => {
    const base = `otpauth://totp/a?secret=${SECRET}&x=`;
    const ofLength = (n: number) => base + "y".repeat(n - base.length);
    expect(parseOtpauthUri(ofLength(4096)).secret).toEqual(SECRET_BYTES);
    expect(expectInvalid(() => parseOtpauthUri(ofLength(4097)))).toBe(
      "the otpauth URI is 4097 characters long; the limit is 4096",
    );
  });

  it("never quotes a refused value: a secret pasted into the wrong place stays hidden", () => {
    for (const uri of [
      `otpauth://totp/a?secret=${SECRET}&algorithm=${SECRET}`,
      `otpauth://totp/a?secret=${SECRET}&encoder=${SECRET}`,
      `otpauth://${SECRET}/a?secret=${SECRET}`,
      `otpauth://totp/a?secret=${SECRET}&digits=${SECRET}`,
      `otpauth://totp/a?secret=${SECRET}&period=${SECRET}`,
    ]) {
      expect(expectInvalid(() => parseOtpauthUri(uri))).not.toMatch(/JBSW|Y3DP|EHPK|3PXP/);
    }
  });
});
