import { describe, expect, it } from "vitest";
import { parseWrkReport } from "../src/wrkReport.js";

const summary = [
  "Running 3s test @ http://127.0.0.1:8200",
  "  1 threads and 50 connections",
  "  Thread Stats   Avg      Stdev     Max   +/- Stdev",
  "Requests/sec:  13385.00",
].join("\n");

const report = (errors: Partial<Record<"connect" | "read" | "write" | "status" | "timeout", number>> = {}) =>
  `wrk-report ${JSON.stringify({
    durationUs: 2_000_000,
    requests: 20_000,
    errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0, ...errors },
    latencyUs: { p50: 3500, p90: 5250, p99: 12000 },
  })}`;

describe("parseWrkReport", () => {
  it("reads calls per second and the percentiles in ms from the script's line after wrk's summary", () => {
    expect(parseWrkReport(`${summary}\n${report()}\n`)).toEqual({
      ok: 20_000,
      errors: {},
      seconds: 2,
      rps: 10_000,
      p50Ms: 3.5,
      p90Ms: 5.25,
      p99Ms: 12,
    });
  });

  it("does not count responses with an error status as answered, and names every kind of error seen", () => {
    const result = parseWrkReport(`${summary}\n${report({ status: 400, timeout: 2 })}\n`);
    expect(result.ok).toBe(19_600);
    expect(result.errors).toEqual({ status: 400, timeout: 2 });
  });

  it("fails, quoting wrk's output, when the script printed no report", () => {
    expect(() => parseWrkReport(summary)).toThrow(/no report.*Requests\/sec/s);
  });
});
