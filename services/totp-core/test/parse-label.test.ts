import { describe, expect, it } from "vitest";
import { labelFromEntry } from "../src/parse/labelFromEntry.js";
import { validateLabel } from "../src/parse/validateLabel.js";
import { expectInvalid } from "./expectInvalid.js";

describe("validateLabel", () => {
  it.each(["a", "0", "aws-root", "github.alice_2", "x".repeat(48), "a.b.c", "9-_."])("accepts %s", (label) => {
    expect(validateLabel(label)).toBe(label);
  });

  it.each([
    ["", "label is empty"],
    ["x".repeat(49), "label is 49 characters long; the limit is 48"],
    ["-aws", "label must start with a lower-case letter or a digit, not '-'"],
    [".hidden", "label must start with a lower-case letter or a digit, not '.'"],
    ["Aws", "label must start with a lower-case letter or a digit, not 'A'"],
    ["aws Root", "label has a space at position 4; use only a-z, 0-9, '.', '_' and '-'"],
    ["awsRoot", "label has an upper-case 'R' at position 4; labels are lower-case"],
    ["aws/root", "label has '/' at position 4; use only a-z, 0-9, '.', '_' and '-'"],
    ["a..b", "label has '..' at position 2; two dots in a row are not allowed"],
    ["a\nb", "label has U+000A at position 2; use only a-z, 0-9, '.', '_' and '-'"],
    ["café", "label has U+00E9 at position 4; use only a-z, 0-9, '.', '_' and '-'"],
    ["a😀", "label has U+1F600 at position 2; use only a-z, 0-9, '.', '_' and '-'"],
  ])("refuses %j: %s", (label, message) => {
    expect(expectInvalid(() => validateLabel(label))).toBe(message);
  });

  it("names the field it checks", () => {
    expect(expectInvalid(() => validateLabel("-x", "label_prefix"))).toMatch(/^label_prefix must start/);
  });
});

describe("labelFromEntry", () => {
  it.each([
    ["", "GitHub", "alice@example.com", "github-alice-example.com"],
    ["work-", "ACME Co", "john.doe", "work-acme-co-john.doe"],
    ["", "", "bob", "bob"],
    ["", "Steam", "", "steam"],
    ["", "", "", "otp"],
    ["team.", "微信", "", "team.otp"],
    ["", "..Weird..Issuer..", "--me--", "weird.issuer.-me"],
    ["", "a".repeat(40), "b".repeat(40), `${"a".repeat(40)}-bbbbbbb`],
    ["p-", "x".repeat(45), "y", `p-${"x".repeat(45)}`],
  ])("(%j, %j, %j) → %s", (prefix, issuer, account, label) => {
    expect(labelFromEntry(prefix, issuer, account)).toBe(label);
  });

  it("refuses a prefix that is not label characters, or too long to leave room", () => {
    expect(expectInvalid(() => labelFromEntry("Work-", "a", "b"))).toMatch(/^label_prefix must start/);
    expect(expectInvalid(() => labelFromEntry("w".repeat(33), "a", "b"))).toBe(
      "label_prefix is 33 characters long; the limit is 32",
    );
  });
});
