import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { protoRoot } from "@totp-custody/contract";
import { runProcess, toolPath } from "@totp-custody/testkit";
import { parseWrkReport } from "./wrkReport.js";

/** What one load run measured. Latencies are of successful calls only. */
export interface LoadResult {
  /** Successful calls. */
  ok: number;
  /** Failed calls by status or error text; a run with failures does not measure what it claims to. */
  errors: Record<string, number>;
  seconds: number;
  /** Successful calls per second. */
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

/** How hard and how long to drive a server; the same settings for every server compared. */
export interface LoadShape {
  /** Calls in flight at once (ghz workers, HTTP connections). */
  concurrency: number;
  /** HTTP/2 connections the gRPC calls share. */
  connections: number;
  /** Run for this long, or until `total` calls when that is set. */
  seconds: number;
  total?: number;
  /** Throttle to this many calls per second; unlimited when absent. */
  rps?: number;
}

/** An mTLS gRPC server and the client identity to call it with. */
export interface GrpcTarget {
  address: string;
  caPath: string;
  certPath: string;
  keyPath: string;
}

interface GhzReport {
  total: number;
  latencyDistribution: Array<{ percentage: number; latency: number }> | null;
  statusCodeDistribution: Record<string, number> | null;
  errorDistribution: Record<string, number> | null;
}

const NS_PER_MS = 1e6;

/** Drives one RPC of totp.v1.TotpService (GenerateCode by default) with ghz; `requests` are sent in turn. */
export async function runGhz(
  target: GrpcTarget,
  requests: readonly object[],
  shape: LoadShape,
  method = "GenerateCode",
): Promise<LoadResult> {
  const dir = await mkdtemp(join(tmpdir(), "totp-bench-ghz-"));
  try {
    const dataFile = join(dir, "data.json");
    const output = join(dir, "report.json");
    await writeFile(dataFile, JSON.stringify(requests));
    const args = [
      ...["--proto", join(protoRoot, "totp/v1/totp.proto"), "--import-paths", protoRoot],
      ...["--call", `totp.v1.TotpService.${method}`],
      ...["--cacert", target.caPath, "--cert", target.certPath, "--key", target.keyPath],
      ...["--data-file", dataFile, "--disable-template-functions", "--disable-template-data"],
      ...["--concurrency", String(shape.concurrency), "--connections", String(shape.connections)],
      ...(shape.total ? ["--total", String(shape.total)] : ["--duration", `${shape.seconds}s`]),
      // Calls cut off by the end of the run are neither successes nor failures of the server.
      ...["--duration-stop", "ignore"],
      ...(shape.rps ? ["--rps", String(Math.round(shape.rps))] : []),
      ...["--format", "json", "--output", output],
      target.address,
    ];
    const ghz = runProcess(toolPath("ghz"), args);
    const { code } = await ghz.exited;
    if (code !== 0) throw new Error(`ghz exited with ${code}: ${ghz.stderr.trim().slice(-2000)}`);
    const report = JSON.parse(await readFile(output, "utf8")) as GhzReport;
    const statuses = report.statusCodeDistribution ?? {};
    const ok = statuses.OK ?? 0;
    const errors: Record<string, number> = { ...report.errorDistribution };
    for (const [name, count] of Object.entries(statuses)) if (name !== "OK") errors[name] = count;
    const percentile = (p: number) =>
      (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? Number.NaN) / NS_PER_MS;
    const seconds = report.total / 1e9;
    return {
      ok,
      errors,
      seconds,
      rps: ok / seconds,
      p50Ms: percentile(50),
      p90Ms: percentile(90),
      p99Ms: percentile(99),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The latency percentile `p` (0 to 1) of sorted millisecond values. */
const percentileOf = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

/**
 * What one ListLabels page costs OpenBao alone: `concurrency` loops, each listing the first `pageSize + 1` entries
 * of `dir` in a KV v2 mount (one paginated LIST) and reading their metadata `inFlight` at a time, as totp-core does
 * for a page. The floor under the ListLabels row: a "call" here is one such page.
 */
export async function runVaultPages(
  vault: { addr: string; token: string },
  mount: string,
  dir: string,
  page: { pageSize: number; inFlight: number },
  shape: Pick<LoadShape, "concurrency" | "seconds">,
): Promise<LoadResult> {
  const headers = { "x-vault-token": vault.token };
  const errors: Record<string, number> = {};
  const get = async (path: string) => {
    const response = await fetch(`${vault.addr}/v1/${mount}/metadata/${path}`, { headers });
    if (!response.ok) errors[String(response.status)] = (errors[String(response.status)] ?? 0) + 1;
    return response.json() as Promise<{ data?: { keys?: string[] } }>;
  };
  const latencies: number[] = [];
  const started = performance.now();
  const endAt = started + shape.seconds * 1000;
  const loop = async () => {
    while (performance.now() < endAt) {
      const at = performance.now();
      const listed = await get(`${dir}?list=true&limit=${page.pageSize + 1}`);
      const names = listed.data?.keys ?? [];
      for (let i = 0; i < names.length; i += page.inFlight) {
        await Promise.all(names.slice(i, i + page.inFlight).map((name) => get(`${dir}${name}`)));
      }
      latencies.push(performance.now() - at);
    }
  };
  await Promise.all(Array.from({ length: shape.concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    ok: sorted.length,
    errors,
    seconds,
    rps: sorted.length / seconds,
    p50Ms: percentileOf(sorted, 0.5),
    p90Ms: percentileOf(sorted, 0.9),
    p99Ms: percentileOf(sorted, 0.99),
  };
}

const WRK_SCRIPT = fileURLToPath(new URL("../wrk/rotatingGet.lua", import.meta.url));

/**
 * Drives HTTP GETs of `paths` (in turn) on Vault at `baseUrl` with wrk: one thread, one connection per call in
 * flight. A C client, so that the engine is measured at what it serves rather than at what a Node client sends.
 * The token goes through the environment, never a file or the command line.
 */
export async function runWrk(
  vault: { addr: string; token: string },
  paths: readonly string[],
  shape: Pick<LoadShape, "concurrency" | "seconds">,
): Promise<LoadResult> {
  // wrk takes whole seconds only.
  const seconds = Math.max(1, Math.round(shape.seconds));
  const args = ["--threads", "1", "--connections", String(shape.concurrency), "--duration", `${seconds}s`];
  const wrk = runProcess(toolPath("wrk"), [...args, "--script", WRK_SCRIPT, vault.addr, "--", ...paths], {
    env: { BENCH_VAULT_TOKEN: vault.token },
  });
  const { code } = await wrk.exited;
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${`${wrk.stdout}\n${wrk.stderr}`.trim().slice(-2000)}`);
  return parseWrkReport(wrk.stdout);
}
