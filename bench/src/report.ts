import type { LoadResult } from "./load.js";
import type { ProfiledServer } from "./profile.js";
import type { Ratio } from "./ratios.js";

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
    /** NODE_OPTIONS of totp-core and the echo: the chart's core.nodeOptions. */
    nodeOptions: string;
    store: string;
    /** How the TOTP engine is driven (the gRPC servers by ghz). */
    engineClient: string;
  };
  core: Series;
  /** With --compare: the totp-core of each other checkout, measured in the same rounds. */
  compared: Array<{ dir: string; commit: string; series: Series }>;
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
  /** One soak per audit setting, in the order they ran; none without --soak. */
  soaks: Soak[];
  /** With --profile: totp-core and the echo profiled under the same load. */
  profile: { core: ProfiledServer; echo: ProfiledServer } | undefined;
  /** Every ratio by a name that says what it divides (bench/src/ratios.ts), with its target when it has one. */
  ratios: Record<string, Ratio>;
}

/** A steady load at half totp-core's peak with its memory sampled: a leak against pools settling. */
export interface Soak {
  /** Where the soaked totp-core writes its audit log: a file with fdatasync, or stdout (the default). */
  audit: "file" | "stdout";
  minutes: number;
  rps: number;
  samples: Array<{ atSeconds: number; rssBytes: number; heapUsedBytes: number }>;
  /** Median of the first minute against that of the last, for RSS and heap used. */
  rssGrowthPercent: number;
  heapGrowthPercent: number;
  /** The rise of the least-squares line through all samples over the soak, in % of where it starts. */
  rssTrendPercent: number;
  heapTrendPercent: number;
  /** CPU other processes used during the soak, in % of one core: a busy machine makes the trends less telling. */
  otherCpuPercent: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Server CPU milliseconds per 1000 calls (microseconds per call) of one measured run. */
export const serverCpuMsPerThousand = (m: Measured): number => (m.serverCpuSeconds / m.ok) * 1e6;

export function series(name: string, rounds: Measured[]): Series {
  return {
    name,
    rounds,
    median: {
      rps: median(rounds.map((r) => r.rps)),
      p50Ms: median(rounds.map((r) => r.p50Ms)),
      p90Ms: median(rounds.map((r) => r.p90Ms)),
      p99Ms: median(rounds.map((r) => r.p99Ms)),
      serverCpuMsPerThousand: median(rounds.map(serverCpuMsPerThousand)),
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
  for (const { series } of r.compared) addSeries(series);
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
  const listed = r.listing.perPage;
  lines.push("", ...formatRatios(r.ratios), "");
  lines.push(
    `cold path: ${r.coldPath.calls} concurrent first calls, ${r.coldPath.ok} ok, Vault reads ${r.coldPath.vaultReads}`,
    `ListLabels Vault requests per page: ${fixed(listed.lists, 1)} LIST, ${fixed(listed.metadataReads, 1)} metadata reads, ` +
      `${fixed(listed.seedReads, 1)} seed reads`,
  );
  const mb = (bytes: number) => fixed(bytes / 1e6, 0);
  for (const soak of r.soaks) {
    const range = (key: "rssBytes" | "heapUsedBytes") => {
      const values = soak.samples.map((sample) => sample[key]);
      return `${mb(Math.min(...values))}-${mb(Math.max(...values))} MB`;
    };
    lines.push(
      `soak, audit ${soak.audit}: ${soak.minutes} min at ${fixed(soak.rps, 0)}/s, ${soak.samples.length} samples, ` +
        `noise ${fixed(soak.otherCpuPercent, 0)}%; ` +
        `RSS ${range("rssBytes")}, trend ${fixed(soak.rssTrendPercent, 1)}%, first minute to last ${fixed(soak.rssGrowthPercent, 1)}%; ` +
        `heap ${range("heapUsedBytes")}, trend ${fixed(soak.heapTrendPercent, 1)}%, first minute to last ${fixed(soak.heapGrowthPercent, 1)}%`,
    );
  }
  const m = r.machine;
  const s = r.settings;
  lines.push(
    "",
    `${m.cores} x ${m.cpuModel}, Node ${m.node}, Linux ${m.kernel}; ${s.labels} labels, ${s.rounds} x ${s.secondsPerRound} s ` +
      `after ${s.warmupSeconds} s warm-up, ${s.concurrency} calls in flight over ${s.connections} connections; audit: ${s.audit}; ` +
      `NODE_OPTIONS (the chart's): ${s.nodeOptions || "none"}; ` +
      `engine client: ${s.engineClient}`,
    "* CPU ms per 1000 calls (= µs per call). noise: CPU used by other processes during the runs, % of one core;",
    "  ! = still noisy after the retries",
  );
  return lines.join("\n");
}

/** One line per ratio: its name, value, target and whether it is met, and what it divides. */
export function formatRatios(ratios: Record<string, Ratio>): string[] {
  const width = Math.max(...Object.keys(ratios).map((name) => name.length));
  return Object.entries(ratios).map(([name, { what, value, target, met }]) => {
    const goal = target ? `${target.op} ${target.value}` : "";
    const mark = target ? (met ? "ok" : "MISSED") : "";
    return `${name.padEnd(width)}  ${fixed(value, 2).padStart(7)}  ${goal.padEnd(7)}  ${mark.padEnd(6)}  ${what}`.trimEnd();
  });
}
