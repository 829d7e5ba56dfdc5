import { describe, expect, it } from "vitest";
import { parseOptions } from "../src/options.js";

const soakOf = (argv: string[]) => {
  const options = parseOptions(argv);
  if (options === "help") throw new Error("expected options, got help");
  return options.soakMinutes;
};

describe("parseOptions --soak", () => {
  it("soaks 30 minutes when no number follows, long enough to tell a leak from pools settling", () => {
    expect(soakOf(["--soak"])).toBe(30);
    expect(soakOf(["--soak", "--quick"])).toBe(30);
  });

  it("takes the minutes that follow, fractions included", () => {
    expect(soakOf(["--soak", "10"])).toBe(10);
    expect(soakOf(["--quick", "--soak", "0.5"])).toBe(0.5);
  });

  it("does not soak unless asked", () => {
    expect(soakOf(["--quick"])).toBeUndefined();
  });
});
