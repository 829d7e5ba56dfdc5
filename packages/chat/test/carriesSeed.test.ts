import { Secret } from "otpauth";
import { describe, expect, it } from "vitest";
import { carriesSeed } from "../src/index.js";

const seed = new Secret({ size: 20 }).base32;

describe("carriesSeed", () => {
  it.each([
    [`add shop ${seed}`, true],
    [`ADD shop otpauth://totp/Shop:me?secret=${seed}`, true],
    // Not a valid seed, but meant as one: the user's secret all the same.
    ["add shop hunter2", true],
    ["import otpauth-migration://offline?data=abc", true],
    [seed, true],
    [`code ${seed}`, true],
    ["add shop", false],
    ["add", false],
    ["import", false],
    ["code shop", false],
    ["list", false],
    ["hello there", false],
  ])("%s: %s", (text, expected) => {
    expect(carriesSeed(text)).toBe(expected);
  });
});
