import { Algorithm, Encoding } from "@totp-custody/client";
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { CliError } from "../src/CliError.js";
import { classifySeed } from "../src/classifySeed.js";
import { ExitCode } from "../src/exitCodes.js";
import { givenSeedFlags, parseAlgorithm, parsePositiveInteger, seedSpec } from "../src/parseSeedFlags.js";

// Shapes only: these are not real seeds, and the core validates the rest.
const SECRET = "JBSW Y3DP EHPK 3PXP";

function refusal(text: string): CliError {
  try {
    classifySeed(text);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error("expected classifySeed to refuse");
}

describe("classifySeed", () => {
  it("tells an otpauth URI from a base32 secret, trimming the newline a pipe adds", () => {
    expect(classifySeed("otpauth://totp/GitHub:me?secret=JBSWY3DPEHPK3PXP\n")).toEqual({
      kind: "uri",
      otpauthUri: "otpauth://totp/GitHub:me?secret=JBSWY3DPEHPK3PXP",
    });
    expect(classifySeed("OTPAUTH://TOTP/x?secret=A")).toMatchObject({ kind: "uri" });
    expect(classifySeed(`  ${SECRET}\r\n`)).toEqual({ kind: "base32", secretBase32: SECRET });
  });

  it("refuses empty input, an export and other URIs, without quoting what it read", () => {
    expect(refusal(" \n")).toMatchObject({ exitCode: ExitCode.invalid, message: expect.stringMatching(/^no seed/) });
    const exportUri = "otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8SGEV4YW1wbGU";
    expect(refusal(exportUri)).toMatchObject({ exitCode: ExitCode.usage, message: expect.stringMatching(/import/) });
    const other = refusal("https://example.com/?secret=JBSWY3DPEHPK3PXP");
    expect(other.exitCode).toBe(ExitCode.invalid);
    expect(other.message).not.toContain("JBSWY3DPEHPK3PXP");
  });
});

describe("seed flags", () => {
  it("parses algorithms in any case and refuses others", () => {
    expect(parseAlgorithm("SHA256")).toBe(Algorithm.ALGORITHM_SHA256);
    expect(parseAlgorithm("sha-512")).toBe(Algorithm.ALGORITHM_SHA512);
    expect(() => parseAlgorithm("md5")).toThrow(InvalidArgumentError);
  });

  it("takes whole numbers above 0 only", () => {
    expect(parsePositiveInteger("8")).toBe(8);
    for (const bad of ["0", "-6", "6.5", "six", ""])
      expect(() => parsePositiveInteger(bad)).toThrow(InvalidArgumentError);
  });

  it("names the flags given, which conflict with a URI", () => {
    expect(givenSeedFlags({})).toEqual([]);
    expect(givenSeedFlags({ digits: 8, steam: false, issuer: "X" })).toEqual(["--digits", "--issuer"]);
  });

  it("builds a spec that leaves unset fields to the core's defaults", () => {
    expect(seedSpec(SECRET, {})).toEqual({
      secretBase32: SECRET,
      algorithm: Algorithm.ALGORITHM_UNSPECIFIED,
      digits: 0,
      period: 0,
      issuer: "",
      account: "",
      encoding: Encoding.ENCODING_UNSPECIFIED,
    });
    expect(seedSpec(SECRET, { steam: true, period: 60 })).toMatchObject({
      encoding: Encoding.ENCODING_STEAM,
      period: 60,
    });
  });
});
