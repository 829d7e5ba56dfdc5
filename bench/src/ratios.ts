import { type BenchResults, type Measured, median, type Series, serverCpuMsPerThousand } from "./report.js";

/** A goal for a ratio: at least, at most or exactly `value`. */
export interface Bound {
  op: ">=" | "<=" | "==";
  value: number;
}

/** One figure of the run divided by another, with the goal it is held to when it has one. */
export interface Ratio {
  /** What is divided by what, in words. */
  what: string;
  value: number;
  target?: Bound;
  /** Whether `value` meets `target`; absent when there is no target. A NaN value (not measured) meets nothing. */
  met?: boolean;
}

export function meets(value: number, { op, value: bound }: Bound): boolean {
  if (op === ">=") return value >= bound;
  if (op === "<=") return value <= bound;
  return value === bound;
}

function ratio(what: string, value: number, target?: Bound): Ratio {
  return target ? { what, value, target, met: meets(value, target) } : { what, value };
}

/** The parts of a run the ratios are computed from. */
export type RatioInputs = Pick<
  BenchResults,
  "core" | "compared" | "shared" | "echo" | "engine" | "halfPeak" | "coldPath" | "listing" | "scaling" | "soaks"
>;

/**
 * Every ratio of a run, by a name that says what it divides. Per-call server CPU compares the servers whatever
 * share of the machine the load generator takes; throughput ratios depend on that share too.
 */
export function benchRatios(r: RatioInputs): Record<string, Ratio> {
  const cpu = (s: { median: { serverCpuMsPerThousand: number } }) => s.median.serverCpuMsPerThousand;
  const perPage = r.listing.perPage;
  const ratios: Record<string, Ratio> = {
    coreToEchoThroughput: ratio("totp-core calls/s / echo calls/s", r.core.median.rps / r.echo.median.rps, {
      op: ">=",
      value: 0.9,
    }),
    echoToCoreServerCpuPerCall: ratio(
      "echo server CPU per call / totp-core server CPU per call",
      cpu(r.echo) / cpu(r.core),
      { op: ">=", value: 0.9 },
    ),
    // Codes per server CPU-second are 1 / CPU per call: the engine's CPU per code over totp-core's.
    coreToEngineCodesPerServerCpuSecond: ratio(
      "totp-core codes per server CPU-second / TOTP engine codes per server CPU-second (engine under wrk)",
      cpu(r.engine) / cpu(r.core),
      { op: ">=", value: 2 },
    ),
    coreToEngineThroughput: ratio(
      "totp-core calls/s / TOTP engine codes/s (engine under wrk; both share the machine with their client)",
      r.core.median.rps / r.engine.median.rps,
    ),
    coreToEchoP99AtHalfPeak: ratio(
      `totp-core p99 / echo p99, both at ${Math.round(r.halfPeak.rps)}/s (half totp-core's peak)`,
      r.halfPeak.core.p99Ms / r.halfPeak.echo.p99Ms,
      { op: "<=", value: 1.5 },
    ),
    sharedToCoreThroughput: ratio(
      "totp-core with limits in Redis calls/s / totp-core with limits per process calls/s",
      r.shared.median.rps / r.core.median.rps,
      { op: ">=", value: 0.9 },
    ),
    coldPathVaultReadsPerBurst: ratio(
      `Vault reads / burst of ${r.coldPath.calls} concurrent first calls for one label`,
      r.coldPath.vaultReads,
      { op: "==", value: 1 },
    ),
    listingToVaultPages: ratio(
      "ListLabels pages/s / OpenBao alone pages/s (the same Vault reads per page)",
      r.listing.core.median.rps / r.listing.vault.median.rps,
    ),
    listingSeedReadsPerPage: ratio("reads of secrets (seeds) / ListLabels page", perPage.seedReads, {
      op: "==",
      value: 0,
    }),
    listingVaultRequestsPerPage: ratio(
      `Vault requests (LIST and metadata reads) / ListLabels page of ${r.listing.pageSize}`,
      perPage.lists + perPage.metadataReads,
      { op: "<=", value: r.listing.pageSize + 2 },
    ),
    ...(r.scaling && {
      scaledToSingleCoreThroughput: ratio(
        "totp-core, 2 processes calls/s / totp-core, 1 process calls/s",
        r.scaling.core.median.rps / r.core.median.rps,
      ),
      scaledToSingleEchoThroughput: ratio(
        "echo, 2 processes calls/s / echo, 1 process calls/s",
        r.scaling.echo.median.rps / r.echo.median.rps,
      ),
    }),
  };
  // The cost of a change: this checkout against each one given to --compare. Each round measured both back to back,
  // so the ratio is the median of the rounds' own ratios: the machine's pace, which moves between rounds by more
  // than the 3 % looked for, then mostly cancels out.
  const paired = (series: Series, f: (core: Measured, other: Measured) => number) =>
    median(r.core.rounds.map((core, i) => f(core, series.rounds[i] as Measured)));
  for (const { commit, series } of r.compared) {
    ratios[`coreTo_${commit}_Throughput`] = ratio(
      `totp-core calls/s / calls/s of the totp-core of ${commit} (--compare), median of the rounds' ratios`,
      paired(series, (core, other) => core.rps / other.rps),
      { op: ">=", value: 0.97 },
    );
    ratios[`${commit}_ToCoreServerCpuPerCall`] = ratio(
      `server CPU per call of the totp-core of ${commit} (--compare) / totp-core server CPU per call, median of the rounds' ratios`,
      paired(series, (core, other) => serverCpuMsPerThousand(other) / serverCpuMsPerThousand(core)),
      { op: ">=", value: 0.97 },
    );
  }
  for (const soak of r.soaks) {
    const over = `over the ${soak.minutes}-minute soak (audit ${soak.audit})`;
    ratios[`${soak.audit}AuditSoakRssTrendPercent`] = ratio(
      `rise of the least-squares line through RSS ${over} / where it starts, %`,
      soak.rssTrendPercent,
      { op: "<=", value: 10 },
    );
    ratios[`${soak.audit}AuditSoakHeapTrendPercent`] = ratio(
      `rise of the least-squares line through heap used ${over} / where it starts, %`,
      soak.heapTrendPercent,
      { op: "<=", value: 5 },
    );
  }
  return ratios;
}
