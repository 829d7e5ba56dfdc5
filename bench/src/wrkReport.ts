import type { LoadResult } from "./load.js";

/** What bench/wrk/rotatingGet.lua's done() prints, after the marker, on a line of its own. */
interface WrkReport {
  durationUs: number;
  /** Every completed response, those with a status above 399 included. */
  requests: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number };
}

const MARKER = "wrk-report ";

/**
 * The run's result from wrk's stdout: its own summary, then the script's JSON line. wrk counts a response with an
 * error status as a completed request, so the successful calls are the requests less those.
 */
export function parseWrkReport(stdout: string): LoadResult {
  const line = stdout.split("\n").find((l) => l.startsWith(MARKER));
  if (!line) throw new Error(`wrk printed no report (is its script's done() missing?): ${stdout.slice(-2000)}`);
  const report = JSON.parse(line.slice(MARKER.length)) as WrkReport;
  const errors: Record<string, number> = {};
  for (const [kind, count] of Object.entries(report.errors)) if (count > 0) errors[kind] = count;
  const ok = report.requests - report.errors.status;
  const seconds = report.durationUs / 1e6;
  return {
    ok,
    errors,
    seconds,
    rps: ok / seconds,
    p50Ms: report.latencyUs.p50 / 1000,
    p90Ms: report.latencyUs.p90 / 1000,
    p99Ms: report.latencyUs.p99 / 1000,
  };
}
