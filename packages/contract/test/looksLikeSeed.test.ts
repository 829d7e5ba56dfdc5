import { newSecret } from "@totp-custody/testkit";
import { describe, expect, it } from "vitest";
import { looksLikeSeed } from "../src/looksLikeSeed.js";

/** A fresh secret that holds a digit 2-7, as nearly all do; the letters-only case is tested on its own. */
function secretWithDigit(bytes = 20): string {
  for (;;) {
    const secret = newSecret(bytes);
    if (/[2-7]/.test(secret)) return secret;
  }
}

const groups = (secret: string, size: number) => secret.match(new RegExp(`.{1,${size}}`, "g"))?.join(" ") ?? "";

describe("looksLikeSeed", () => {
  it("finds otpauth and otpauth-migration URIs anywhere, in any case", () => {
    expect(looksLikeSeed("otpauth://totp/x?secret=AB")).toBe(true);
    expect(looksLikeSeed("here: OTPAUTH://TOTP/x")).toBe(true);
    expect(looksLikeSeed("import otpauth-migration://offline?data=CjEK")).toBe(true);
    expect(looksLikeSeed("add x otpauth://hotp/x?secret=AB&counter=1")).toBe(true);
  });

  it("finds base32 secrets: whole, grouped, lower-case, padded, inside a sentence", () => {
    for (const bytes of [10, 16, 20, 32, 64]) {
      const secret = secretWithDigit(bytes);
      expect(looksLikeSeed(secret), secret.length.toString()).toBe(true);
      expect(looksLikeSeed(secret.toLowerCase())).toBe(true);
      expect(looksLikeSeed(`${secret}====`)).toBe(true);
      expect(looksLikeSeed(groups(secret, 4))).toBe(true);
      expect(looksLikeSeed(groups(secret.toLowerCase(), 4))).toBe(true);
      expect(looksLikeSeed(groups(secret, 8))).toBe(true);
      expect(looksLikeSeed(groups(secret, 3))).toBe(true);
      expect(looksLikeSeed(`my key is ${groups(secret, 4)}, thanks`)).toBe(true);
      expect(looksLikeSeed(`my key is "${secret}".`)).toBe(true);
      expect(looksLikeSeed(`«${secret}»`)).toBe(true);
      expect(looksLikeSeed(`(${secret}`)).toBe(true);
      expect(looksLikeSeed(`code\n${secret}`)).toBe(true);
    }
  });

  it("finds a letters-only secret in capitals, as the apps show it", () => {
    expect(looksLikeSeed("ABCDEFGHIJKLMNOPQRSTUVWXYZ")).toBe(true);
    expect(looksLikeSeed("ABCD EFGH IJKL MNOP")).toBe(true);
  });

  it("leaves ordinary words, sentences and labels alone", () => {
    for (const text of [
      "",
      "hello",
      "code github",
      "remove team-aws confirm",
      "code aws-root-account-production",
      "please give me the code for the staging server",
      "this text will have many four word runs",
      "authenticationcodes",
      "HelloWorldFooBarBaz",
      "a b c d e f g h i j k l m n o p q",
      "1234567890123456",
      "https://example.com/totp/setup",
      "JBSWY3DP",
    ]) {
      expect(looksLikeSeed(text), text).toBe(false);
    }
  });
});
