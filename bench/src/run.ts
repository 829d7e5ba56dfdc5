// npm run bench: totp-core next to the limit of its own stack (a bare grpc-js mTLS server) and next to what a user
// could pick instead (the OpenBao TOTP engine), on the same machine in one run. See README "Benchmarks" and the
// "Performance goals" of the design. Progress goes to stderr; the table to stdout and bench/results/<time>.json.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Algorithm, createTotpClient, Encoding } from "@totp-custody/client";
import {
  freePort,
  makeTestPki,
  type ProcessHandle,
  type RunningCore,
  runProcess,
  spiffeId,
  startRedis,
  startTotpCore,
  startVault,
  TOTP_CORE_MAIN,
} from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { parse as parseYaml } from "yaml";
import { type GrpcTarget, type LoadResult, type LoadShape, runGhz, runVaultPages, runWrk } from "./load.js";
import { type BenchOptions, parseOptions, USAGE } from "./options.js";
import { cpuSeconds, machineCpu, reapedChildrenCpuSeconds, rssBytes } from "./procStats.js";
import { formatProfiles, summarizeProfile } from "./profile.js";
import { benchRatios, type RatioInputs } from "./ratios.js";
import { type BenchResults, formatTable, type Measured, median, type Series, type Soak, series } from "./report.js";
import { trendPercent } from "./trendPercent.js";

const ECHO_ENTRY = fileURLToPath(new URL("./echoServer.js", import.meta.url));
const CLUSTER_ENTRY = fileURLToPath(new URL("./cluster.js", import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));
/**
 * Node's heap flags as the chart gives totp-core (core.nodeOptions), read from its values so the benchmark measures
 * what is deployed; the echo gets them too, so it stays the same stack without totp-core's work.
 */
const CHART_NODE_OPTIONS: string = parseYaml(
  readFileSync(fileURLToPath(new URL("../../deploy/helm/totp-custody/values.yaml", import.meta.url)), "utf8"),
).core.nodeOptions;

const CLIENT = "bench";
const PRINCIPAL = "service:bench";
/** The principal whose labels ListLabels pages through: its own, so the GenerateCode rows keep their 100 labels. */
const LISTER = "bench-lister";
const LISTER_PRINCIPAL = "service:bench-lister";
const POLICY =
  `clients:\n  ${spiffeId(CLIENT)}: { principal: ${PRINCIPAL} }\n` +
  `  ${spiffeId(LISTER)}: { principal: ${LISTER_PRINCIPAL} }\nselfService: true\n`;
/**
 * The highest per-minute limit the configuration accepts (16 667 calls/s per principal and process, above what one
 * process serves here): limits have tests of their own, and a refused call would fail the run.
 */
const NO_LIMIT = "1000000";
/** A run during which other processes used more than this share of a core is repeated (up to ATTEMPTS times). */
const NOISE_LIMIT = 0.1;
const ATTEMPTS = 3;
const COLD_CALLS = 1000;
const LIST_PAGE_SIZE = 100;
/**
 * ListLabels calls in flight. Each page sends OpenBao about a hundred requests, 16 at a time (the store's
 * DESCRIBE_IN_FLIGHT), so 4 pages keep 64 Vault requests in flight: enough to keep OpenBao busy on 2 cores.
 */
const LIST_CONCURRENCY = 4;
const DESCRIBE_IN_FLIGHT = 16;
/** Pages whose Vault requests are counted in the audit log; each answers the same first page. */
const LIST_COUNTED_CALLS = 20;
/** ghz runs of the soak; each keeps every call's latency in memory, so a long soak is cut into segments. */
const SOAK_SEGMENT_SECONDS = 30;
const SOAK_SAMPLE_SECONDS = 10;
const SOAK_WARMUP_SECONDS = 60;
/** Processes in the scaling runs: one per core of the machines this is meant for. */
const SCALE_PROCESSES = 2;

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

/** Everything started so far, stopped in reverse order at the end or on Ctrl-C. */
const cleanups: Array<() => Promise<unknown>> = [];
async function cleanup(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => {});
}

/** Processes of the benchmark's servers, by pid: CPU they use is not noise. */
const benchProcesses = new Map<number, { name: string; output?: () => string }>();
function cpuOf(pids: Iterable<number>): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSeconds(pid);
    } catch (err) {
      const known = benchProcesses.get(pid);
      throw new Error(`${known?.name ?? "a server"} (pid ${pid}) is gone: ${known?.output?.().slice(-2000) ?? ""}`, {
        cause: err,
      });
    }
  }
  return sum;
}
const ownCpu = () => {
  const usage = process.cpuUsage();
  // ghz and wrk run as children, reaped when they exit; the ListLabels floor's client runs in this process.
  return (usage.user + usage.system) / 1e6 + reapedChildrenCpuSeconds();
};

/** CPU seconds each party used between the meter's start and a reading. */
type CpuCharges = Pick<Measured, "serverCpuSeconds" | "loadGeneratorCpuSeconds" | "otherCpuSeconds" | "stealSeconds">;

/** Starts charging CPU time to the server (`serverPids`), the load generator and everyone else on the machine. */
function cpuMeter(serverPids: number[]): () => CpuCharges {
  const server0 = cpuOf(serverPids);
  const bench0 = cpuOf(benchProcesses.keys());
  const own0 = ownCpu();
  const machine0 = machineCpu();
  return () => {
    const machine1 = machineCpu();
    const loadGeneratorCpuSeconds = ownCpu() - own0;
    const otherCpuSeconds = Math.max(
      0,
      machine1.busy - machine0.busy - (cpuOf(benchProcesses.keys()) - bench0) - loadGeneratorCpuSeconds,
    );
    return {
      serverCpuSeconds: cpuOf(serverPids) - server0,
      loadGeneratorCpuSeconds,
      otherCpuSeconds,
      stealSeconds: machine1.steal - machine0.steal,
    };
  };
}

/**
 * Runs a load and charges its CPU time: the server's, the load generator's, and everyone else's on the machine.
 * Other users' work (tests run by colleagues) skews a run, so a noisy run is repeated and the quietest kept.
 */
async function measure(what: string, serverPids: number[], run: () => Promise<LoadResult>): Promise<Measured> {
  let quietest: Measured | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const loadAverage = loadavg()[0] ?? 0;
    const meter = cpuMeter(serverPids);
    const result = await run();
    const charges = meter();
    const { loadGeneratorCpuSeconds, otherCpuSeconds } = charges;
    if (Object.keys(result.errors).length > 0) {
      throw new Error(
        `${what}: calls failed, so the numbers would not mean anything: ${JSON.stringify(result.errors)}`,
      );
    }
    const measured: Measured = {
      ...result,
      ...charges,
      loadAverage,
      noisy: otherCpuSeconds / result.seconds > NOISE_LIMIT,
    };
    log(
      `${what}: ${measured.rps.toFixed(0)}/s, p99 ${measured.p99Ms.toFixed(2)} ms, server CPU ${measured.serverCpuSeconds.toFixed(1)} s, ` +
        `load generator ${loadGeneratorCpuSeconds.toFixed(1)} s, others ${otherCpuSeconds.toFixed(1)} s (load average ${loadAverage.toFixed(2)})`,
    );
    if (!quietest || measured.otherCpuSeconds < quietest.otherCpuSeconds) quietest = measured;
    if (!measured.noisy) break;
    if (attempt < ATTEMPTS) log(`${what}: other processes were busy during the run; running it again`);
  }
  return quietest as Measured;
}

/** Starts `entry` as SCALE_PROCESSES processes behind one port; resolves with all their pids. */
async function startCluster(
  entry: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ address: string; pids: number[] }> {
  const port = await freePort();
  const handle: ProcessHandle = runProcess("node", [CLUSTER_ENTRY, String(SCALE_PROCESSES), entry], {
    env: { ...env, TOTP_LISTEN: `127.0.0.1:${port}` },
    cwd,
  });
  cleanups.push(() => handle.stop());
  const match = await handle.waitForOutput(/cluster ready (\{.*\})/, 60_000);
  const { pids } = JSON.parse(match[1] as string) as { pids: number[] };
  const output = () => `${handle.stdout}\n${handle.stderr}`;
  for (const pid of pids) benchProcesses.set(pid, { name: `${entry} x${SCALE_PROCESSES}`, output });
  return { address: `127.0.0.1:${port}`, pids };
}

/** A sample's value in totp-core's Prometheus text, e.g. `scrape(port, 'totp_seed_cache_total{result="hit"}')`. */
async function scrape(metricsPort: number, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  // A labelled counter appears once it has been counted: absent means 0.
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

async function main(options: BenchOptions): Promise<void> {
  const startedAt = new Date();
  const labels = Array.from({ length: options.labels }, (_, i) => `bench-${String(i).padStart(3, "0")}`);
  const shape: LoadShape = {
    concurrency: options.concurrency,
    connections: options.connections,
    seconds: options.seconds,
  };
  const warm: LoadShape = { ...shape, seconds: options.warmupSeconds };

  log("starting OpenBao (KV v2 store, audited), OpenBao (TOTP engine), totp-core and the echo server");
  const pki = await makeTestPki([CLIENT, LISTER]);
  cleanups.push(() => pki.cleanup());
  const workDir = await mkdtemp(join(tmpdir(), "totp-bench-"));
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));
  // The store's Vault keeps an audit log to count the cold path's reads. The engine gets a Vault of its own
  // without one: auditing would slow it down, and the comparison should show the engine at its best.
  const kvVault = await startVault({ auditLog: true });
  cleanups.push(() => kvVault.stop());
  const engineVault = await startVault();
  cleanups.push(() => engineVault.stop());
  await engineVault.enableTotp();

  const metricsPort = await freePort();
  // The audit log goes to a file with fdatasync per group commit: the setting of a deployment that must not lose
  // an answered call's line in a crash, and the costlier one. On stdout (the default) the lines would go through a
  // pipe to this process, which keeps a child's whole output, and cost a pipe write per batch instead.
  // With its chain keyed (TOTP_AUDIT_KEY_FILE), as a deployment that anchors its audit log runs it.
  const auditSetting = "TOTP_AUDIT_FILE (fdatasync per group commit), chain keyed (TOTP_AUDIT_KEY_FILE)";
  const auditKeyFile = join(workDir, "audit.key");
  await writeFile(auditKeyFile, randomBytes(32).toString("hex"), { mode: 0o600 });
  const coreEnv: NodeJS.ProcessEnv = {
    NODE_OPTIONS: CHART_NODE_OPTIONS,
    TOTP_STORE: "vault-kv",
    VAULT_ADDR: kvVault.addr,
    VAULT_TOKEN: kvVault.token,
    // The longest the configuration allows: the benchmark measures warm calls.
    TOTP_CACHE_TTL_MS: "30000",
    TOTP_AUDIT_FILE: join(workDir, "audit.log"),
    TOTP_AUDIT_KEY_FILE: auditKeyFile,
    TOTP_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
    TOTP_RATE_REQUESTS_PER_PRINCIPAL: NO_LIMIT,
    TOTP_RATE_CODES_PER_LABEL: NO_LIMIT,
    TOTP_RATE_WRITES_PER_PRINCIPAL: NO_LIMIT,
    TOTP_RATE_DELETES_PER_PRINCIPAL: NO_LIMIT,
  };
  const core: RunningCore = await startTotpCore({ pki, policy: POLICY, env: coreEnv });
  cleanups.push(() => core.stop());
  const corePid = core.process.pid as number;
  benchProcesses.set(corePid, { name: "totp-core", output: () => `${core.process.stdout}\n${core.process.stderr}` });

  // With --compare, another checkout's totp-core on the same Vault and settings (its own audit file): the "before"
  // of a change, measured in the same rounds as this one so that the machine's pace hits both alike.
  const compared = [];
  for (const dir of options.compare) compared.push(await startCompared(dir));

  // The same core with its limits counted in Redis (what several replicas share): the cost of sharing is this row
  // against the one above. Its own audit file, so the two never contend for one file's fsync.
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const sharedCore: RunningCore = await startTotpCore({
    pki,
    policy: POLICY,
    env: {
      ...coreEnv,
      TOTP_REDIS_URL: redis.url,
      TOTP_AUDIT_FILE: join(workDir, "audit-redis.log"),
      TOTP_METRICS_LISTEN: undefined,
    },
  });
  cleanups.push(() => sharedCore.stop());
  await sharedCore.process.waitForOutput(/Redis available/, 10_000);
  const sharedPids = [sharedCore.process.pid as number, redis.pid as number];
  benchProcesses.set(sharedPids[0] as number, {
    name: "totp-core (Redis limits)",
    output: () => `${sharedCore.process.stdout}\n${sharedCore.process.stderr}`,
  });
  benchProcesses.set(sharedPids[1] as number, { name: "redis-server" });

  const echoPort = await freePort();
  const echoEnv: NodeJS.ProcessEnv = {
    NODE_OPTIONS: CHART_NODE_OPTIONS,
    TOTP_TLS_CERT: pki.server.certPath,
    TOTP_TLS_KEY: pki.server.keyPath,
    TOTP_TLS_CA: pki.caPath,
  };
  const echo = runProcess("node", [ECHO_ENTRY], { env: { ...echoEnv, TOTP_LISTEN: `127.0.0.1:${echoPort}` } });
  cleanups.push(() => echo.stop());
  await echo.waitForOutput(/echo ready/);
  const echoPid = echo.pid as number;
  const enginePid = engineVault.pid as number;
  benchProcesses.set(echoPid, { name: "echo server", output: () => `${echo.stdout}\n${echo.stderr}` });
  benchProcesses.set(enginePid, { name: "OpenBao (TOTP engine)" });
  benchProcesses.set(kvVault.pid as number, { name: "OpenBao (KV store)" });

  const target = (address: string, name = CLIENT): GrpcTarget => {
    const cert = pki.clients[name];
    if (!cert) throw new Error(`the test PKI has no client ${name}`);
    return { address, caPath: pki.caPath, certPath: cert.certPath, keyPath: cert.keyPath };
  };
  const coreTarget = target(core.address);
  const sharedTarget = target(sharedCore.address);
  const echoTarget = target(`127.0.0.1:${echoPort}`);

  log(`registering ${labels.length} seeds in totp-core and, the same ones, in the TOTP engine`);
  // The server certificate names localhost too; Node warns when TLS is asked to check an IP address by name.
  const client = createTotpClient({ ...core.clientOptions(CLIENT), maxAttempts: 1, serverName: "localhost" });
  cleanups.push(async () => client.close());
  await Promise.all(
    labels.map(async (label) => {
      const spec = benchSpec(label);
      await client.registerSeed({ label, spec });
      await engineVault.request("POST", `totp/keys/${label}`, {
        generate: false,
        key: spec.secretBase32,
        issuer: spec.issuer,
        account_name: spec.account,
        algorithm: "SHA1",
        digits: 6,
        period: 30,
      });
    }),
  );
  const first = labels[0] as string;
  await checkSameCodes(first, "the TOTP engine", async () => {
    const answer = await engineVault.request<{ data: { code: string } }>("GET", `totp/code/${first}`);
    return answer.data.code;
  });
  for (const { commit, core } of compared) {
    const other = createTotpClient({ ...core.clientOptions(CLIENT), maxAttempts: 1, serverName: "localhost" });
    try {
      await checkSameCodes(
        first,
        `the totp-core of ${commit}`,
        async () => (await other.generateCode({ label: first })).code,
      );
    } finally {
      other.close();
    }
  }

  const requests = labels.map((label) => ({ label }));
  const enginePaths = labels.map((label) => `/v1/totp/code/${label}`);
  /** A ghz run of `shape` against a gRPC target, the same labels for every one of them. */
  const loadOn = (grpcTarget: GrpcTarget) => (s: LoadShape) => () => runGhz(grpcTarget, requests, s);
  const loadCore = loadOn(coreTarget);
  const loadShared = loadOn(sharedTarget);
  const loadEcho = loadOn(echoTarget);
  const loadCompared = (core: RunningCore, s: LoadShape) => loadOn(target(core.address))(s);
  const loadEngine = (s: LoadShape) => () => runWrk(engineVault, enginePaths, s);

  log(`warming up each target for ${options.warmupSeconds} s`);
  await loadCore(warm)();
  for (const other of compared) await loadCompared(other.core, warm)();
  await loadShared(warm)();
  await loadEcho(warm)();
  await loadEngine(warm)();

  // Rounds interleave the targets, so that a slow spell of the machine hits all three alike.
  const rounds: Record<"core" | "shared" | "echo" | "engine", Measured[]> = {
    core: [],
    shared: [],
    echo: [],
    engine: [],
  };
  for (let round = 1; round <= options.rounds; round++) {
    log(`round ${round} of ${options.rounds}`);
    // This totp-core and the compared ones back to back, the order turned by one each round: whichever ran first in
    // a round came out ahead by about 10 % when the order was fixed (two builds of one hot path, 7 rounds).
    const cores = [
      () => measure("totp-core", [corePid], loadCore(shape)).then((m) => rounds.core.push(m)),
      ...compared.map(
        (other) => () =>
          measure(
            `totp-core of ${other.commit}`,
            [other.core.process.pid as number],
            loadCompared(other.core, shape),
          ).then((m) => other.rounds.push(m)),
      ),
    ];
    for (let i = 0; i < cores.length; i++) await cores[(i + round) % cores.length]?.();
    // Charged with redis-server's CPU too: it is part of what sharing costs.
    rounds.shared.push(await measure("totp-core, Redis limits", sharedPids, loadShared(shape)));
    rounds.echo.push(await measure("echo", [echoPid], loadEcho(shape)));
    rounds.engine.push(await measure("TOTP engine", [enginePid], loadEngine(shape)));
  }
  const coreSeries = series("totp-core GenerateCode", rounds.core);
  const sharedSeries = series("totp-core, limits in Redis", rounds.shared);
  const echoSeries = series("grpc-js echo (same TLS)", rounds.echo);
  const engineSeries = series("OpenBao TOTP engine (HTTP)", rounds.engine);

  const halfRps = coreSeries.median.rps / 2;
  log(`totp-core throttled to half its peak, ${halfRps.toFixed(0)}/s, and the echo server to the same rate`);
  const halfPeak = {
    rps: halfRps,
    core: await measure("totp-core at half peak", [corePid], loadCore({ ...shape, rps: halfRps })),
    // What the stack alone does at that rate: the part of the latency totp-core cannot win back.
    echo: await measure("echo at the same rate", [echoPid], loadEcho({ ...shape, rps: halfRps })),
  };

  const coldPath = await measureColdPath();

  log(`scaling: ${SCALE_PROCESSES} processes of each gRPC server behind one port`);
  const coreCluster = await startCluster(
    TOTP_CORE_MAIN,
    { ...core.env, TOTP_METRICS_LISTEN: undefined, TOTP_AUDIT_FILE: join(workDir, "audit-cluster.log") },
    core.dir,
  );
  const echoCluster = await startCluster(ECHO_ENTRY, echoEnv, workDir);
  const coreClusterLoad = (s: LoadShape) => () => runGhz(target(coreCluster.address), requests, s);
  const echoClusterLoad = (s: LoadShape) => () => runGhz(target(echoCluster.address), requests, s);
  await coreClusterLoad(warm)();
  await echoClusterLoad(warm)();
  const scaled: Record<"core" | "echo", Measured[]> = { core: [], echo: [] };
  for (let round = 1; round <= options.rounds; round++) {
    scaled.core.push(await measure(`totp-core x${SCALE_PROCESSES}`, coreCluster.pids, coreClusterLoad(shape)));
    scaled.echo.push(await measure(`echo x${SCALE_PROCESSES}`, echoCluster.pids, echoClusterLoad(shape)));
  }
  const scaling: { core: Series; echo: Series } = {
    core: series(`totp-core, ${SCALE_PROCESSES} processes`, scaled.core),
    echo: series(`echo, ${SCALE_PROCESSES} processes`, scaled.echo),
  };

  const listing = await measureListing();

  const soaks = options.soakMinutes === undefined ? [] : await runSoaks(options.soakMinutes, halfRps);
  const profile = options.profile ? await runProfile() : undefined;

  const measured: RatioInputs = {
    core: coreSeries,
    compared: compared.map(({ dir, commit, rounds }) => ({
      dir,
      commit,
      series: series(`totp-core of ${commit} (--compare)`, rounds),
    })),
    shared: sharedSeries,
    echo: echoSeries,
    engine: engineSeries,
    halfPeak,
    coldPath,
    listing,
    scaling,
    soaks,
  };
  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    machine: { cpuModel: cpuModel(), cores: cpus().length, node: process.version, kernel: release() },
    settings: {
      labels: options.labels,
      rounds: options.rounds,
      secondsPerRound: options.seconds,
      warmupSeconds: options.warmupSeconds,
      concurrency: options.concurrency,
      connections: options.connections,
      audit: auditSetting,
      nodeOptions: CHART_NODE_OPTIONS,
      store: "vault-kv (OpenBao dev server), seed cache TTL 30 s",
      engineClient: `wrk, 1 thread, ${options.concurrency} connections, the labels in turn`,
    },
    ...measured,
    profile,
    ratios: benchRatios(measured),
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${stamp(startedAt)}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${formatTable(results)}\n`);
  if (profile) process.stdout.write(`\n${formatProfiles(profile)}\n`);
  process.stdout.write(`\nwritten to ${file}\n`);

  /** Starts the totp-core of the checkout `dir` (built there) with this run's settings. */
  async function startCompared(dir: string) {
    const main = join(resolve(dir), "services/totp-core/dist/main.js");
    if (!existsSync(main)) {
      throw new Error(`--compare: ${main} does not exist; run npm ci and npm run build in ${dir} first`);
    }
    const commit = execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    log(`starting the totp-core of ${commit} (--compare ${dir})`);
    const core = await startTotpCore({
      pki,
      policy: POLICY,
      main,
      env: { ...coreEnv, TOTP_AUDIT_FILE: join(workDir, "audit-compared.log"), TOTP_METRICS_LISTEN: undefined },
    });
    cleanups.push(() => core.stop());
    benchProcesses.set(core.process.pid as number, {
      name: `totp-core of ${commit}`,
      output: () => `${core.process.stdout}\n${core.process.stderr}`,
    });
    return { dir, commit, core, rounds: [] as Measured[] };
  }

  /**
   * `other` answers the code this totp-core answers for `label`: it has the same seeds (the TOTP engine, or a
   * compared totp-core reading this one's Vault). Asked twice, in case the first pair straddled a step boundary.
   */
  async function checkSameCodes(label: string, what: string, other: () => Promise<string>): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const [ours, theirs] = await Promise.all([client.generateCode({ label }), other()]);
      if (ours.code === theirs) return;
    }
    throw new Error(`totp-core and ${what} disagree on the code of ${label}: the seeds differ`);
  }

  /** 1000 concurrent first calls for one uncached label, and how many of them reached Vault. */
  async function measureColdPath(): Promise<BenchResults["coldPath"]> {
    const label = "cold-label";
    await client.registerSeed({ label, spec: benchSpec(label) });
    const path = `secret/data/totp/users/${PRINCIPAL.replace(":", "/")}/${label}`;
    const reads = () =>
      kvVault.countRequests((entry) => entry.request?.operation === "read" && entry.request.path === path);
    const cacheLookups = async () =>
      Object.fromEntries(
        await Promise.all(
          ["hit", "miss", "coalesced"].map(
            async (result) => [result, await scrape(metricsPort, `totp_seed_cache_total{result="${result}"}`)] as const,
          ),
        ),
      );
    const readsBefore = await reads();
    const cacheBefore = await cacheLookups();
    log(`cold path: ${COLD_CALLS} concurrent calls for one label nobody has asked for yet`);
    // Streams per connection stay under TOTP_MAX_CONCURRENT_STREAMS (256), so every call is in flight at once.
    const result = await runGhz(coreTarget, [{ label }], {
      concurrency: COLD_CALLS,
      connections: Math.ceil(COLD_CALLS / 250),
      seconds: 0,
      total: COLD_CALLS,
    });
    const cacheAfter = await cacheLookups();
    const cache = Object.fromEntries(
      Object.entries(cacheAfter).map(([result, count]) => [result, count - (cacheBefore[result] ?? 0)]),
    );
    return { calls: COLD_CALLS, ok: result.ok, vaultReads: (await reads()) - readsBefore, cache };
  }

  /**
   * ListLabels pages of 100 for a principal with `options.listed` labels: the Vault requests one page makes (counted
   * in OpenBao's audit log), then rounds of pages against rounds of the same reads sent to OpenBao directly. Both
   * rows are charged OpenBao's CPU too: it does most of a page's work.
   */
  async function measureListing(): Promise<BenchResults["listing"]> {
    const count = options.listed;
    log(`listing: registering ${count} labels for ${LISTER_PRINCIPAL}`);
    const lister = createTotpClient({ ...core.clientOptions(LISTER), maxAttempts: 1, serverName: "localhost" });
    cleanups.push(async () => lister.close());
    const names = Array.from({ length: count }, (_, i) => `listed-${String(i).padStart(5, "0")}`);
    for (let i = 0; i < names.length; i += DESCRIBE_IN_FLIGHT) {
      await Promise.all(
        names.slice(i, i + DESCRIBE_IN_FLIGHT).map((label) => lister.registerSeed({ label, spec: benchSpec(label) })),
      );
    }
    const listerTarget = target(core.address, LISTER);
    const requests = [{ pageSize: LIST_PAGE_SIZE }];
    const dir = `totp/users/${LISTER_PRINCIPAL.replace(":", "/")}/`;
    const counts = async () => {
      const of = (operation: string, prefix: string) =>
        kvVault.countRequests((e) => e.request?.operation === operation && (e.request.path ?? "").startsWith(prefix));
      return {
        lists: await of("list", `secret/metadata/${dir}`),
        metadataReads: await of("read", `secret/metadata/${dir}`),
        seedReads: await of("read", `secret/data/${dir}`),
      };
    };
    const before = await counts();
    const counted = await runGhz(
      listerTarget,
      requests,
      { concurrency: 1, connections: 1, seconds: 0, total: LIST_COUNTED_CALLS },
      "ListLabels",
    );
    if (counted.ok !== LIST_COUNTED_CALLS) throw new Error(`listing: ${JSON.stringify(counted.errors)}`);
    const after = await counts();
    const perPage = {
      lists: (after.lists - before.lists) / LIST_COUNTED_CALLS,
      metadataReads: (after.metadataReads - before.metadataReads) / LIST_COUNTED_CALLS,
      seedReads: (after.seedReads - before.seedReads) / LIST_COUNTED_CALLS,
    };
    log(`listing: per page ${JSON.stringify(perPage)}`);

    const listShape: LoadShape = { concurrency: LIST_CONCURRENCY, connections: 1, seconds: options.seconds };
    const vaultPid = kvVault.pid as number;
    const loadPages = (s: LoadShape) => () => runGhz(listerTarget, requests, s, "ListLabels");
    const loadVault = (s: LoadShape) => () =>
      runVaultPages(kvVault, "secret", dir, { pageSize: LIST_PAGE_SIZE, inFlight: DESCRIBE_IN_FLIGHT }, s);
    await loadPages({ ...listShape, seconds: options.warmupSeconds })();
    const rounds: Record<"core" | "vault", Measured[]> = { core: [], vault: [] };
    for (let round = 1; round <= options.rounds; round++) {
      rounds.core.push(await measure("ListLabels", [corePid, vaultPid], loadPages(listShape)));
      rounds.vault.push(await measure("OpenBao alone, the same reads", [vaultPid], loadVault(listShape)));
    }
    const name = `ListLabels page of ${LIST_PAGE_SIZE} with ${count.toLocaleString("en")} labels`;
    return {
      labels: count,
      pageSize: LIST_PAGE_SIZE,
      core: series(name, rounds.core),
      vault: series("OpenBao alone, the same reads per page", rounds.vault),
      perPage,
    };
  }

  /**
   * The soaks: the measured totp-core (audit in a file with fdatasync), then one of the default configuration
   * (audit on stdout, a pipe to this process), each for `minutes` at half the peak rate.
   */
  async function runSoaks(minutes: number, rps: number): Promise<Soak[]> {
    const fileAudit = await runSoak(minutes, rps, { audit: "file", target: coreTarget, pid: corePid, metricsPort });
    const stdoutMetricsPort = await freePort();
    const stdoutCore = await startTotpCore({
      pki,
      policy: POLICY,
      env: { ...coreEnv, TOTP_AUDIT_FILE: undefined, TOTP_METRICS_LISTEN: `127.0.0.1:${stdoutMetricsPort}` },
      // Half an hour of audit lines would not fit in this process's memory; the pipe is read all the same.
      outputTail: 64 * 1024,
    });
    cleanups.push(() => stdoutCore.stop());
    const stdoutPid = stdoutCore.process.pid as number;
    benchProcesses.set(stdoutPid, {
      name: "totp-core (audit on stdout)",
      output: () => `${stdoutCore.process.stdout}\n${stdoutCore.process.stderr}`,
    });
    try {
      const stdoutAudit = await runSoak(minutes, rps, {
        audit: "stdout",
        target: target(stdoutCore.address),
        pid: stdoutPid,
        metricsPort: stdoutMetricsPort,
      });
      return [fileAudit, stdoutAudit];
    } finally {
      // Its work is done: it must neither take memory from what follows nor count as one of the bench's servers.
      benchProcesses.delete(stdoutPid);
      await stdoutCore.stop();
    }
  }

  /**
   * Steady load at half the peak rate, with a totp-core's RSS and heap sampled every SOAK_SAMPLE_SECONDS. The first
   * stretch of load is a warm-up (the process was idle during the scaling runs and gave memory back); heap use saws
   * up and down with every collection, so start and end are the medians of the first and the last minute, and the
   * trend is the least-squares line through every sample.
   */
  async function runSoak(
    minutes: number,
    rps: number,
    subject: { audit: Soak["audit"]; target: GrpcTarget; pid: number; metricsPort: number },
  ): Promise<Soak> {
    const warmupMs = Math.min(SOAK_WARMUP_SECONDS * 1000, minutes * 12_000);
    log(
      `soak, audit ${subject.audit}: ${minutes} min at ${rps.toFixed(0)} calls/s, after ${warmupMs / 1000} s of the same load`,
    );
    const samples: Soak["samples"] = [];
    let measuredFrom = Number.POSITIVE_INFINITY;
    const sample = async () => {
      samples.push({
        atSeconds: Math.round((Date.now() - measuredFrom) / 1000),
        rssBytes: rssBytes(subject.pid),
        heapUsedBytes: await scrape(subject.metricsPort, "nodejs_heap_size_used_bytes"),
      });
    };
    const started = Date.now();
    const endAt = started + warmupMs + minutes * 60_000;
    let sampler: NodeJS.Timeout | undefined;
    let meter: (() => CpuCharges) | undefined;
    try {
      while (Date.now() < endAt) {
        if (sampler === undefined && Date.now() >= started + warmupMs) {
          measuredFrom = Date.now();
          meter = cpuMeter([subject.pid]);
          await sample();
          sampler = setInterval(
            () => sample().catch((err: unknown) => log(`soak: a memory sample failed: ${String(err)}`)),
            SOAK_SAMPLE_SECONDS * 1000,
          );
        }
        const left = (sampler === undefined ? started + warmupMs : endAt) - Date.now();
        const seconds = Math.min(SOAK_SEGMENT_SECONDS, Math.max(1, left / 1000));
        const result = await runGhz(subject.target, requests, { ...shape, seconds, rps });
        if (Object.keys(result.errors).length > 0) {
          throw new Error(`soak: calls failed: ${JSON.stringify(result.errors)}`);
        }
      }
    } finally {
      clearInterval(sampler);
    }
    await sample();
    const soakSeconds = (Date.now() - measuredFrom) / 1000;
    const otherCpuSeconds = meter?.().otherCpuSeconds ?? Number.NaN;
    // A minute's samples at each end, fewer in a soak too short for the two not to overlap.
    const window = Math.max(1, Math.min(60 / SOAK_SAMPLE_SECONDS, Math.floor(samples.length / 3)));
    const growth = (key: Sampled) => {
      const start = median(samples.slice(0, window).map((s) => s[key]));
      const end = median(samples.slice(-window).map((s) => s[key]));
      return ((end - start) / start) * 100;
    };
    const trend = (key: Sampled) => trendPercent(samples.map((s) => ({ x: s.atSeconds, y: s[key] })));
    return {
      audit: subject.audit,
      minutes,
      rps,
      samples,
      rssGrowthPercent: growth("rssBytes"),
      heapGrowthPercent: growth("heapUsedBytes"),
      rssTrendPercent: trend("rssBytes"),
      heapTrendPercent: trend("heapUsedBytes"),
      otherCpuPercent: (otherCpuSeconds / soakSeconds) * 100,
    };
  }

  /**
   * CPU profiles of a separate totp-core and a separate echo under the same unthrottled load (the profiler's
   * overhead stays out of the table). Side by side per answered call, they show what totp-core adds to the stack
   * it shares with the echo, origin by origin.
   */
  async function runProfile(): Promise<NonNullable<BenchResults["profile"]>> {
    const profileDir = join(workDir, "profile");
    const profiling = ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
    const profiledCore = await startTotpCore({
      pki,
      policy: POLICY,
      env: {
        ...coreEnv,
        TOTP_AUDIT_FILE: join(workDir, "audit-profile.log"),
        TOTP_METRICS_LISTEN: undefined,
      },
      nodeArgs: profiling,
    });
    const core = await profileUnderLoad("totp-core", profiledCore.address, () => profiledCore.stop(), "core");
    const echoAddress = `127.0.0.1:${await freePort()}`;
    const profiledEcho = runProcess("node", [...profiling, ECHO_ENTRY], {
      env: { ...echoEnv, TOTP_LISTEN: echoAddress },
    });
    // Stopped by its profile's run; this covers an echo that never gets ready.
    cleanups.push(() => profiledEcho.stop());
    await profiledEcho.waitForOutput(/echo ready/);
    const echo = await profileUnderLoad("the echo", echoAddress, () => profiledEcho.stop(), "echo");
    return { core, echo };

    async function profileUnderLoad(name: string, address: string, stop: () => Promise<unknown>, suffix: string) {
      let answered: number;
      try {
        log(`profiling ${name} for ${options.seconds} s`);
        await runGhz(target(address), requests, warm);
        answered = (await runGhz(target(address), requests, shape)).ok;
      } finally {
        // The profile is written when the process exits.
        await stop();
      }
      const written = (await readdir(profileDir)).find((file) => file.endsWith(".cpuprofile"));
      if (!written) throw new Error(`${name} wrote no CPU profile`);
      const file = join(RESULTS_DIR, `${stamp(startedAt)}-${suffix}.cpuprofile`);
      await mkdir(RESULTS_DIR, { recursive: true });
      // Moved, not copied: the next profile of the run is then the only one in the directory.
      await copyFile(join(profileDir, written), file);
      await rm(join(profileDir, written));
      // The run itself and the second it takes the process to stop.
      return { file, ...(await summarizeProfile(file, options.seconds + 1, answered)) };
    }
  }
}

type Sampled = "rssBytes" | "heapUsedBytes";

/** A new random seed for `label`, made here and held only in memory: no seed is written down or logged. */
function benchSpec(label: string) {
  return {
    secretBase32: new OTPAuth.Secret({ size: 20 }).base32,
    algorithm: Algorithm.ALGORITHM_SHA1,
    digits: 6,
    period: 30,
    issuer: "Bench",
    account: `${label}@example.com`,
    encoding: Encoding.ENCODING_NUMERIC,
  };
}

function cpuModel(): string {
  return cpus()[0]?.model.trim() ?? "unknown";
}

const stamp = (at: Date) => at.toISOString().replace(/[:.]/g, "-");

let options: BenchOptions | "help";
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (options === "help") {
  process.stdout.write(`${USAGE}\n`);
} else {
  process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));
  try {
    await main(options);
  } catch (err) {
    process.exitCode = 1;
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  } finally {
    await cleanup();
  }
}
