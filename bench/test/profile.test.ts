import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatProfiles, type ProfiledServer, summarizeProfile } from "../src/profile.js";

const server = (file: string, calls: number, usPerCallByOrigin: Record<string, number>): ProfiledServer => ({
  file,
  calls,
  busyMs: 1000,
  top: [{ frame: "record services/totp-core/dist/ops/AuditLog.js:260", selfPercent: 1.3 }],
  byOrigin: {},
  usPerCallByOrigin,
});

const dir = await mkdtemp(join(tmpdir(), "bench-profile-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

const frame = (id: number, functionName: string, url: string) => ({
  id,
  callFrame: { functionName, url, lineNumber: 9 },
});

describe("summarizeProfile", () => {
  it("gives self time by origin in % and in µs per answered call, counting only the last seconds", async () => {
    const path = join(dir, "server.cpuprofile");
    const ours = "file:///repo/services/totp-core/dist/ops/AuditLog.js";
    // Samples 1 ms apart over 3 s, the profile ending 0.5 ms after the last: the first second (start-up) falls
    // outside the last 2 s and must not count.
    const samples = Array.from({ length: 3000 }, (_, i) => (i < 1000 ? 3 : ([1, 2, 4][i % 3] ?? 1)));
    await writeFile(
      path,
      JSON.stringify({
        nodes: [
          frame(1, "record", ours),
          frame(2, "(garbage collector)", ""),
          frame(3, "compile", "node:internal/modules/cjs/loader"),
          frame(4, "(idle)", ""),
        ],
        samples,
        timeDeltas: samples.map(() => 1000),
        startTime: 0,
        endTime: 3_000_500,
      }),
    );
    const summary = await summarizeProfile(path, 2, 400);
    // 2000 samples in the window: 666 of record, 667 of GC, 667 idle; none of the start-up frame.
    expect(summary.busyMs).toBe(1333);
    expect(summary.calls).toBe(400);
    expect(summary.byOrigin).toEqual({ gc: 50, "totp-custody": 50 });
    expect(summary.usPerCallByOrigin).toEqual({ gc: 1667.5, "totp-custody": 1665 });
    expect(summary.top).toEqual([
      { frame: "(garbage collector)", selfPercent: 50 },
      { frame: "record services/totp-core/dist/ops/AuditLog.js:10", selfPercent: 50 },
    ]);
  });
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
