import type { LoadResult } from "./load.js";
import type { ProfileSummary } from "./profile.js";

/** A load run with what it cost: the numbers behind one row of the table. */
export interface Measured extends LoadResult {
  /** CPU seconds of the server's processes during the run. */
  serverCpuSeconds: number;
  /** CPU seconds of the load generator (ghz, wrk, or the benchmark's own process for the ListLabels floor). */
  loadGeneratorCpuSeconds: number;
  /** CPU seconds of everything else on the machine: other users' work makes the run noisy. */
  otherCpuSeconds: number;
  stealSeconds: number;
  /** 1-minute load average when the run started. */
  loadAverage: number;
  /** Still noisy after the retries: read with care. */
  noisy: boolean;
}

/** The rounds of one target and their medians. */
export interface Series {
  name: string;
  rounds: Measured[];
  median: {
    rps: number;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    /** CPU milliseconds per 1000 calls, i.e. microseconds per call, of the server and of the load generator. */
    serverCpuMsPerThousand: number;
    clientCpuMsPerThousand: number;
  };
}

export interface BenchResults {
  startedAt: string;
  machine: { cpuModel: string; cores: number; node: string; kernel: string };
  settings: {
    labels: number;
    rounds: number;
    secondsPerRound: number;
    warmupSeconds: number;
    concurrency: number;
    connections: number;
    audit: string;
    store: string;
  };
  core: Series;
  /** totp-core with its rate limits counted in Redis, as replicas share them. */
  shared: Series;
  echo: Series;
  engine: Series;
  /** Both gRPC servers throttled to half totp-core's peak: the same rate for both. */
  halfPeak: { rps: number; core: Measured; echo: Measured };
  coldPath: { calls: number; ok: number; vaultReads: number; cache: Record<string, number> };
  /** ListLabels pages of `pageSize` out of `labels` labels of one principal, and the same reads sent to OpenBao alone. */
  listing: {
    labels: number;
    pageSize: number;
    core: Series;
    vault: Series;
    /** Requests that reached OpenBao per page, from its audit log: the LIST, metadata reads, reads of secrets. */
    perPage: { lists: number; metadataReads: number; seedReads: number };
  };
  scaling: { core: Series; echo: Series } | undefined;
  soak:
    | {
        minutes: number;
        rps: number;
        samples: Array<{ atSeconds: number; rssBytes: number; heapUsedBytes: number }>;
        /** Median of the first minute against that of the last, for RSS and heap used. */
        rssGrowthPercent: number;
        heapGrowthPercent: number;
        /** The rise of the least-squares line through all samples over the soak. */
        rssTrendPercent: number;
        heapTrendPercent: number;
      }
    | undefined;
  profile: (ProfileSummary & { file: string }) | undefined;
  ratios: {
    coreToEcho: number;
    sharedToCore: number;
    coreToEngine: number;
    halfPeakP99Ms: number;
    coldPathVaultReads: number;
    listingToVault: number;
    scalingCore: number | undefined;
    scalingEcho: number | undefined;
  };
  targets: Record<string, { target: string; met: boolean }>;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function series(name: string, rounds: Measured[]): Series {
  return {
    name,
    rounds,
    median: {
      rps: median(rounds.map((r) => r.rps)),
      p50Ms: median(rounds.map((r) => r.p50Ms)),
      p90Ms: median(rounds.map((r) => r.p90Ms)),
      p99Ms: median(rounds.map((r) => r.p99Ms)),
      serverCpuMsPerThousand: median(rounds.map((r) => (r.serverCpuSeconds / r.ok) * 1e6)),
      clientCpuMsPerThousand: median(rounds.map((r) => (r.loadGeneratorCpuSeconds / r.ok) * 1e6)),
    },
  };
}

const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

function row(cells: string[], widths: number[]): string {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
}

/** The results as the plain-text table printed at the end of a run (and pasted into the README). */
export function formatTable(r: BenchResults): string {
  const widths = [42, 8, 7, 7, 7, 12, 12, 6];
  const header = row(
    ["target", "calls/s", "p50 ms", "p90 ms", "p99 ms", "server CPU*", "client CPU*", "noise"],
    widths,
  );
  const lines = [header, "-".repeat(header.length)];
  const noise = (rounds: Measured[]) => {
    const other = rounds.reduce((sum, m) => sum + m.otherCpuSeconds, 0);
    const seconds = rounds.reduce((sum, m) => sum + m.seconds, 0);
    return `${fixed((other / seconds) * 100, 0)}%${rounds.some((m) => m.noisy) ? "!" : ""}`;
  };
  const addSeries = ({ name, median: m, rounds }: Series) =>
    lines.push(
      row(
        [
          name,
          fixed(m.rps, 0),
          fixed(m.p50Ms, 2),
          fixed(m.p90Ms, 2),
          fixed(m.p99Ms, 2),
          fixed(m.serverCpuMsPerThousand, 0),
          fixed(m.clientCpuMsPerThousand, 0),
          noise(rounds),
        ],
        widths,
      ),
    );
  addSeries(r.core);
  addSeries(r.shared);
  addSeries(r.echo);
  addSeries(r.engine);
  const half = r.halfPeak;
  addSeries(series(`totp-core at ${fixed(half.rps, 0)}/s (half peak)`, [half.core]));
  addSeries(series(`echo at ${fixed(half.rps, 0)}/s`, [half.echo]));
  if (r.scaling) {
    addSeries(r.scaling.core);
    addSeries(r.scaling.echo);
  }
  addSeries(r.listing.core);
  addSeries(r.listing.vault);
  const q = r.ratios;
  const listed = r.listing.perPage;
  const mark = (key: string) => (r.targets[key]?.met ? "ok" : "MISSED");
  lines.push(
    "",
    `core / echo throughput     ${fixed(q.coreToEcho, 2)}   (target >= 0.90: ${mark("coreToEcho")})`,
    `Redis limits / per process ${fixed(q.sharedToCore, 2)}   (target >= 0.90: ${mark("sharedToCore")})`,
    `core / TOTP engine         ${fixed(q.coreToEngine, 2)}   (target >= 2: ${mark("coreToEngine")})`,
    `core p99 at half peak      ${fixed(q.halfPeakP99Ms, 2)} ms (target <= 2 ms: ${mark("halfPeakP99")}; echo at that rate ${fixed(half.echo.p99Ms, 2)} ms)`,
    `cold path: ${r.coldPath.calls} calls, ${r.coldPath.ok} ok, Vault reads ${q.coldPathVaultReads} (target exactly 1: ${mark("coldPath")})`,
    `ListLabels / OpenBao alone ${fixed(q.listingToVault, 2)}   (pages per second, the same Vault reads per page)`,
    `ListLabels Vault requests per page: ${fixed(listed.lists, 1)} LIST, ${fixed(listed.metadataReads, 1)} metadata reads, ` +
      `${fixed(listed.seedReads, 1)} seed reads (target no seed read, at most page size + 2 requests: ${mark("listing")})`,
  );
  if (q.scalingCore !== undefined && q.scalingEcho !== undefined) {
    lines.push(`2 processes / 1 process     core ${fixed(q.scalingCore, 2)}x, echo ${fixed(q.scalingEcho, 2)}x`);
  }
  if (r.soak) {
    lines.push(
      `soak ${r.soak.minutes} min at ${fixed(r.soak.rps, 0)}/s, first minute to last: RSS ${fixed(r.soak.rssGrowthPercent, 1)}%, ` +
        `heap ${fixed(r.soak.heapGrowthPercent, 1)}% (target RSS < 10%: ${mark("soak")}); ` +
        `trend: RSS ${fixed(r.soak.rssTrendPercent, 1)}%, heap ${fixed(r.soak.heapTrendPercent, 1)}%`,
    );
  }
  const m = r.machine;
  const s = r.settings;
  lines.push(
    "",
    `${m.cores} x ${m.cpuModel}, Node ${m.node}, Linux ${m.kernel}; ${s.labels} labels, ${s.rounds} x ${s.secondsPerRound} s ` +
      `after ${s.warmupSeconds} s warm-up, ${s.concurrency} calls in flight over ${s.connections} connections; audit: ${s.audit}`,
    "* CPU ms per 1000 calls (= µs per call). noise: CPU used by other processes during the runs, % of one core;",
    "  ! = still noisy after the retries",
  );
  return lines.join("\n");
}
