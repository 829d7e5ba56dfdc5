import { describe, expect, it } from "vitest";
import { formatProfiles, type ProfiledServer } from "../src/profile.js";

const server = (file: string, calls: number, usPerCallByOrigin: Record<string, number>): ProfiledServer => ({
  file,
  calls,
  busyMs: 1000,
  top: [{ frame: "record services/totp-core/dist/ops/AuditLog.js:260", selfPercent: 1.3 }],
  byOrigin: {},
  usPerCallByOrigin,
});

describe("formatProfiles", () => {
  it("puts totp-core's and the echo's CPU per call side by side, origin by origin, with what totp-core adds", () => {
    const text = formatProfiles({
      core: server("core.cpuprofile", 23473, { "totp-custody": 15.5, gc: 11.9 }),
      echo: server("echo.cpuprofile", 44301, { gc: 14, "grpc-js": 8.6 }),
    });
    const lines = text.split("\n");
    expect(lines[0]).toBe("heaviest functions of totp-core (self time, core.cpuprofile):");
    expect(lines[1]).toBe("   1.3%  record services/totp-core/dist/ops/AuditLog.js:260");
    const row = (name: string) => lines.find((line) => line.startsWith(`${name} `))?.split(/\s+/);
    expect(row("totp-custody")).toEqual(["totp-custody", "15.5", "0.0", "15.5"]);
    expect(row("gc")).toEqual(["gc", "11.9", "14.0", "-2.1"]);
    expect(row("grpc-js")).toEqual(["grpc-js", "0.0", "8.6", "-8.6"]);
    expect(row("total")).toEqual(["total", "27.4", "22.6", "4.8"]);
    expect(text).toContain("23473 and 44301 calls");
  });
});
