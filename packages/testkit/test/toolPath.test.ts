import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { toolPath } from "../src/index.js";

describe("toolPath", () => {
  it("prefers the project's pinned tool in .tools/bin", () => {
    const linked = fileURLToPath(new URL("../../../.tools/bin/bao", import.meta.url));
    expect(toolPath("bao")).toBe(linked);
    expect(realpathSync(toolPath("bao"))).toBe(realpathSync(linked));
  });

  it("falls back to PATH", () => {
    expect(toolPath("node")).toMatch(/\/node$/);
  });

  it("fails with the command that installs a missing tool", () => {
    expect(() => toolPath("no-such-tool-xyz")).toThrow("no-such-tool-xyz is missing: run npm run setup-tools");
  });
});
