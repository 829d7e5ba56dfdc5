import { describe, expect, it } from "vitest";
import { benchRatios, meets, type RatioInputs } from "../src/ratios.js";
import { formatRatios, type Measured, type Soak, series } from "../src/report.js";

/** A round of `rps` calls/s for 10 s at `cpuUs` µs of server CPU per call. */
const round = (rps: number, cpuUs: number, p99Ms = 10): Measured => ({
  ok: rps * 10,
  errors: {},
  seconds: 10,
  rps,
  p50Ms: 1,
  p90Ms: 5,
  p99Ms,
  serverCpuSeconds: (rps * 10 * cpuUs) / 1e6,
  loadGeneratorCpuSeconds: 1,
  otherCpuSeconds: 0,
  stealSeconds: 0,
  loadAverage: 0,
  noisy: false,
});

const soak = (audit: Soak["audit"], rssTrendPercent: number, heapTrendPercent: number): Soak => ({
  audit,
  minutes: 30,
  rps: 2400,
  samples: [],
  rssGrowthPercent: 0,
  heapGrowthPercent: 0,
  rssTrendPercent,
  heapTrendPercent,
  otherCpuPercent: 0,
});

const inputs = (changes: Partial<RatioInputs> = {}): RatioInputs => ({
  core: series("core", [round(4800, 200)]),
  shared: series("shared", [round(4500, 260)]),
  echo: series("echo", [round(6400, 150)]),
  engine: series("engine", [round(13_000, 125)]),
  halfPeak: { rps: 2400, core: round(2400, 360, 30), echo: round(2400, 320, 12) },
  coldPath: { calls: 1000, ok: 1000, vaultReads: 1, cache: {} },
  listing: {
    labels: 5000,
    pageSize: 100,
    core: series("pages", [round(13, 100_000)]),
    vault: series("floor", [round(15, 60_000)]),
    perPage: { lists: 1, metadataReads: 101, seedReads: 0 },
  },
  scaling: undefined,
  compared: [],
  soaks: [],
  ...changes,
});

describe("benchRatios", () => {
  it("divides throughput, per-call server CPU and p99 at half peak, each against its target", () => {
    const r = benchRatios(inputs());
    expect(r.coreToEchoThroughput).toMatchObject({ value: 0.75, target: { op: ">=", value: 0.9 }, met: false });
    expect(r.echoToCoreServerCpuPerCall?.value).toBeCloseTo(0.75, 9);
    // 5000 codes per CPU-second against the engine's 8000.
    expect(r.coreToEngineCodesPerServerCpuSecond?.value).toBeCloseTo(0.625, 9);
    expect(r.coreToEngineCodesPerServerCpuSecond?.met).toBe(false);
    expect(r.coreToEchoP99AtHalfPeak).toMatchObject({ value: 2.5, target: { op: "<=", value: 1.5 }, met: false });
    expect(r.sharedToCoreThroughput?.met).toBe(true);
    expect(r.coldPathVaultReadsPerBurst).toMatchObject({ value: 1, met: true });
    expect(r.listingVaultRequestsPerPage).toMatchObject({ value: 102, target: { op: "<=", value: 102 }, met: true });
    expect(r.listingSeedReadsPerPage?.met).toBe(true);
  });

  it("reports ratios without a goal without judging them", () => {
    const r = benchRatios(inputs());
    expect(r.coreToEngineThroughput).toEqual({ what: expect.any(String), value: 4800 / 13_000 });
    expect(r.listingToVaultPages?.target).toBeUndefined();
  });

  it("holds every soak's RSS trend to 10 % and heap trend to 5 %, by audit setting", () => {
    const r = benchRatios(inputs({ soaks: [soak("file", 8.6, -2.9), soak("stdout", 12, 6)] }));
    expect(r.fileAuditSoakRssTrendPercent?.met).toBe(true);
    expect(r.fileAuditSoakHeapTrendPercent?.met).toBe(true);
    expect(r.stdoutAuditSoakRssTrendPercent?.met).toBe(false);
    expect(r.stdoutAuditSoakHeapTrendPercent?.met).toBe(false);
  });

  it("holds this checkout to at most 3 % below each --compare checkout, in throughput and in CPU per call", () => {
    const before = { dir: "/tmp/before", commit: "1234abc", series: series("before", [round(5000, 190)]) };
    const r = benchRatios(inputs({ compared: [before] }));
    expect(r.coreTo_1234abc_Throughput).toMatchObject({ value: 0.96, target: { op: ">=", value: 0.97 }, met: false });
    // 190 µs per call before, 200 now: 5 % more CPU per call.
    expect(r["1234abc_ToCoreServerCpuPerCall"]?.value).toBeCloseTo(0.95, 9);
    expect(r["1234abc_ToCoreServerCpuPerCall"]?.met).toBe(false);
    expect(Object.keys(benchRatios(inputs())).filter((name) => name.includes("1234abc"))).toEqual([]);
  });

  it("adds the scaling ratios only when the scaling runs ran", () => {
    expect(benchRatios(inputs()).scaledToSingleCoreThroughput).toBeUndefined();
    const scaling = { core: series("core x2", [round(6400, 200)]), echo: series("echo x2", [round(10_240, 120)]) };
    expect(benchRatios(inputs({ scaling })).scaledToSingleEchoThroughput?.value).toBeCloseTo(1.6, 9);
  });
});

describe("meets", () => {
  it("treats a value that was not measured as missing its target", () => {
    expect(meets(Number.NaN, { op: ">=", value: 0.9 })).toBe(false);
    expect(meets(Number.NaN, { op: "<=", value: 1.5 })).toBe(false);
  });
});

describe("formatRatios", () => {
  it("prints each ratio with its target and ok or MISSED, and none for a ratio without a goal", () => {
    const lines = formatRatios(benchRatios(inputs()));
    expect(lines.find((l) => l.startsWith("coreToEchoThroughput "))).toMatch(/0\.75\s+>= 0\.9\s+MISSED\s+totp-core/);
    expect(lines.find((l) => l.startsWith("coldPathVaultReadsPerBurst "))).toMatch(/1\.00\s+== 1\s+ok\s+Vault reads/);
    expect(lines.find((l) => l.startsWith("coreToEngineThroughput "))).not.toMatch(/ok|MISSED/);
  });
});
