import { describe, expect, it } from "vitest";
import { isLabel, labelProblem, MAX_LABEL_LENGTH } from "../src/index.js";

describe("the label rule", () => {
  it.each(["a", "0", "github", "team-aws", "a.b_c-d", "x".repeat(MAX_LABEL_LENGTH), "1password", "a."])(
    "accepts %j",
    (label) => {
      expect(isLabel(label)).toBe(true);
      expect(labelProblem(label)).toBeUndefined();
    },
  );

  it.each([
    ["", "a label is needed"],
    ["x".repeat(MAX_LABEL_LENGTH + 1), "a label has at most 48 characters"],
    ["GitHub", "labels are lower-case"],
    ["gitHub", "labels are lower-case"],
    ["-x", "a label starts with a lower-case letter or a digit"],
    [".hidden", "a label starts with a lower-case letter or a digit"],
    ["two words", "a label has no spaces"],
    ["a/b", "a label has only a-z, 0-9, '.', '_' and '-'"],
    ["café", "a label has only a-z, 0-9, '.', '_' and '-'"],
    ["a..b", "a label has no '..'"],
    ["x\n", "a label has no spaces"],
  ])("refuses %j: %s", (label, reason) => {
    expect(isLabel(label)).toBe(false);
    expect(labelProblem(label)).toBe(reason);
  });

  it("never repeats the label in its reason", () => {
    for (const label of ["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"]) {
      expect(labelProblem(label)).not.toContain("JBSW");
    }
  });
});
