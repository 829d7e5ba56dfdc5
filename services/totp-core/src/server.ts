import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { statfsSync } from "node:fs";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { status as grpcStatus, Server, ServerCredentials } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoRoot, TotpServiceService } from "@totp-custody/contract";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import type { Logger } from "pino";
import { type CertificateFiles, CertificateReloader } from "./CertificateReloader.js";
import { type Config, type HostPort, startStep } from "./config.js";
import { createGrpcService } from "./grpcService.js";
import { MtlsListener } from "./MtlsListener.js";
import { AuditLog } from "./ops/AuditLog.js";
import { Metrics } from "./ops/Metrics.js";
import { type CallLimits, RateLimits } from "./ops/RateLimits.js";
import { RefusalLimits, SUMMARY_INTERVAL_MS } from "./ops/RefusalLimits.js";
import { readAuditKey } from "./ops/readAuditKey.js";
import { SharedRateLimits } from "./ops/SharedRateLimits.js";
import { type MetricsServer, startMetricsServer } from "./ops/startMetricsServer.js";
import { clientRule, PolicyWatcher } from "./policy/index.js";
import { RedisLink } from "./redis/RedisLink.js";
import { createSeedStore } from "./store/createSeedStore.js";
import { TotpService } from "./TotpService.js";

export interface RunningServer {
  /** The bound gRPC port (useful when TOTP_LISTEN asked for port 0). */
  port: number;
  healthPort: number | undefined;
  metricsPort: number | undefined;
  /** Health NOT_SERVING, stop accepting, let calls finish within the grace period, then release everything. */
  shutdown(): Promise<void>;
  /** Opens TOTP_AUDIT_FILE again before the next write (after log rotation); false when the log goes to stdout. */
  reopenAuditFile(): boolean;
}

/** The services the health endpoints report: the whole server ("") and the contract's service. */
const HEALTH_SERVICES = ["", "totp.v1.TotpService"];
/** How often health asks the store: how long a store that stopped answering, or refuses our Vault token, goes unseen. */
export const HEALTH_INTERVAL_MS = 2000;
/**
 * After the grace period, the calls still running are answered UNAVAILABLE; their connections then get this long to
 * deliver those answers and close before they are cut.
 */
export const CUT_OFF_MS = 1000;
/** Requests are small (a label, a URI); anything larger is refused before it is parsed. */
const MAX_REQUEST_BYTES = 16 * 1024;
/**
 * The plaintext probe port answers anyone who can reach it: it serves Check only (what a kubelet's gRPC probe
 * sends; Watch streams would hold memory for as long as a client likes), on at most this many connections, each
 * with a few streams and closed when idle.
 */
const PROBE_MAX_CONNECTIONS = 16;
const PROBE_MAX_STREAMS = 4;
const PROBE_IDLE_MS = 30_000;
/** A connection whose certificate the policy does not admit hears its PERMISSION_DENIED, then is cut. */
const REFUSED_CLIENT_GRACE_MS = 2000;

/** The variable that names each TLS file, for a start failure. */
const TLS_VARIABLES: Record<keyof CertificateFiles, string> = {
  certFile: "TOTP_TLS_CERT",
  keyFile: "TOTP_TLS_KEY",
  caFile: "TOTP_TLS_CA",
};

const address = ({ host, port }: HostPort) => `${host.includes(":") ? `[${host}]` : host}:${port}`;

/** A plaintext TCP listener on `at` that hands each connection, up to `maxConnections` open ones, to `serve`. */
async function listenPlain(at: HostPort, maxConnections: number, serve: (socket: Socket) => void): Promise<NetServer> {
  const server = createServer(serve);
  server.maxConnections = maxConnections;
  server.listen(at.port, at.host);
  await Promise.race([once(server, "listening"), once(server, "error").then(([err]) => Promise.reject(err))]);
  return server;
}

const portOf = (server: NetServer): number => {
  const bound = server.address();
  return typeof bound === "object" && bound !== null ? bound.port : 0;
};

/** Wires totp-core from a validated configuration and starts serving. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const metrics = new Metrics();
  // Set once the port listens; the policy's reloads and the certificate reloads reach it from then on.
  let mtls: MtlsListener | undefined;
  const policy = await startStep(
    "TOTP_POLICY_FILE",
    config.policyFile,
    () =>
      new PolicyWatcher({
        file: config.policyFile,
        pollIntervalMs: config.policyReloadMs,
        onReload: () => {
          log.info({ file: config.policyFile }, "policy reloaded");
          // A client the new policy no longer admits (its line removed, its certificate revoked) is cut off.
          mtls?.cutUnadmitted();
        },
        onError: (err) => log.error({ err }, "policy file rejected; the previous policy stays in force"),
      }),
  );
  const redis = config.redis && (await RedisLink.connect(config.redis, log));
  if (redis) metrics.watchRedis(() => redis.available);
  const store = await createSeedStore(config.store, {
    cacheTtlMs: config.cacheTtlMs,
    cacheFreshnessMs: config.cacheFreshnessMs,
    invalidation: redis,
    metrics,
    log,
  });
  const { auditFile, auditKeyFile } = config;
  const auditKey = auditKeyFile
    ? await startStep("TOTP_AUDIT_KEY_FILE", auditKeyFile, () => readAuditKey(auditKeyFile))
    : undefined;
  if (!auditKey) {
    log.warn(
      "TOTP_AUDIT_KEY_FILE is not set: the audit chain is plain SHA-256, tamper-evident only against accidents; " +
        "anyone who can write the audit log can rewrite it undetected",
    );
  }
  const audit = auditFile
    ? await startStep("TOTP_AUDIT_FILE", auditFile, () =>
        AuditLog.toFile(auditFile, {
          key: auditKey,
          onReopenedDetached: () =>
            log.warn({ auditFile }, "audit file was removed or replaced; its lines go on in a new file at the path"),
        }),
      )
    : AuditLog.toStream(process.stdout, { key: auditKey });
  // The head goes to the service log, which leaves the host (a log collector): an operator checks a file against
  // it with `totp-audit-verify --head`, which shows a cut tail or a rewritten file that the chain alone cannot.
  let anchored = "";
  const anchorHead = () => {
    const { seq, hash } = audit.head;
    if (hash === anchored) return;
    anchored = hash;
    log.info({ auditHead: hash, auditSeq: seq }, "audit head");
  };
  const headTimer = setInterval(anchorHead, config.auditHeadIntervalMs);
  headTimer.unref();
  metrics.watchAudit(
    () => audit.bytesWritten,
    () => {
      if (!auditFile) return undefined;
      const fs = statfsSync(dirname(auditFile));
      return fs.bavail * fs.bsize;
    },
  );
  const refusals = new RefusalLimits({ perMinute: config.refusalsPerClientPerMinute });
  // Refusals over a client's budget are written as one line per client per interval. A failed write fails the log
  // closed like any other, so nothing more need happen here than to keep it from being an unhandled rejection.
  const writeSummaries = () => {
    for (const { client, count } of refusals.takeSummaries()) {
      audit
        .record({
          requestId: randomUUID(),
          client,
          method: "RefusedCalls",
          outcome: "RESOURCE_EXHAUSTED",
          status: grpcStatus.RESOURCE_EXHAUSTED,
          latencyMs: 0,
          count,
        })
        .catch((err: unknown) => log.error({ err }, "audit write failed"));
    }
  };
  const summaryTimer = setInterval(writeSummaries, SUMMARY_INTERVAL_MS);
  summaryTimer.unref();
  const onRefused = (kind: string) => metrics.rateLimited.inc({ kind });
  const localLimits = new RateLimits(config.rateLimits, { onRefused });
  const limits: CallLimits = redis
    ? new SharedRateLimits(redis, config.rateLimits, {
        fallback: localLimits,
        onRefused,
        onFallback: () => metrics.redisFallbacks.inc(),
      })
    : localLimits;
  const certificates = await CertificateReloader.start(
    config.tls,
    config.tls.reloadMs,
    (loaded) => {
      mtls?.useCertificates(loaded);
      metrics.tlsCertificateExpiry.set(loaded.notAfter.getTime() / 1000);
      log.info({ notAfter: loaded.notAfter.toISOString() }, "TLS certificates loaded");
    },
    (err) => log.error({ err }, "TLS certificate files unusable; keeping the previous ones"),
    (file, run) => startStep(TLS_VARIABLES[file], config.tls[file], run),
  );

  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((name) => [name, "NOT_SERVING"])));
  let shuttingDown = false;
  const setHealth = (status: ServingStatus) => {
    for (const name of HEALTH_SERVICES) health.setStatus(name, status);
  };
  const probe = async () => {
    // An audit log that cannot be written refuses every call (fail closed): a probe must say so, or Kubernetes would
    // keep sending traffic to a replica that can only answer INTERNAL.
    if (audit.failed) {
      setHealth("NOT_SERVING");
      log.error({ auditFile: config.auditFile }, "audit log not writable; health is NOT_SERVING until a restart");
      return;
    }
    try {
      await store.ping();
      if (!shuttingDown) setHealth("SERVING");
    } catch (err) {
      setHealth("NOT_SERVING");
      log.warn({ err, store: store.kind }, "store not answering; health is NOT_SERVING");
    }
  };
  await probe();
  const probeTimer = setInterval(() => void probe(), HEALTH_INTERVAL_MS);
  probeTimer.unref();

  const inFlight = new Set<() => void>();
  const server = new Server({
    "grpc.max_receive_message_length": MAX_REQUEST_BYTES,
    "grpc.keepalive_time_ms": config.keepalive.timeMs,
    "grpc.keepalive_timeout_ms": config.keepalive.timeoutMs,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_connection_age_ms": config.keepalive.maxConnectionAgeMs,
    "grpc.max_connection_age_grace_ms": config.shutdownGraceMs,
    "grpc.max_concurrent_streams": config.keepalive.maxConcurrentStreams,
  });
  server.addService(
    TotpServiceService,
    createGrpcService({
      inFlight,
      service: new TotpService({ store, policy: () => policy.current() }),
      policy: () => policy.current(),
      log,
      hooks: {
        checkLimit: (kind, principal, label) => limits.check(kind, principal, label),
        audit: (entry) => audit.record(entry),
        admitRefusal: (client) => {
          const admitted = refusals.admit(client);
          if (!admitted.audit) metrics.rateLimited.inc({ kind: "refusals" });
          return admitted;
        },
        cutConnection: (peer) => mtls?.cut(peer, "refusals"),
        auditBroken: () => audit.failed,
        observe: (method, outcome, seconds) => {
          metrics.rpcRequests.inc({ method, code: outcome === "ok" ? "OK" : outcome });
          metrics.rpcDuration.observe({ method }, seconds);
        },
      },
    }),
  );
  health.addToServer(server);
  if (config.reflection) {
    const definition = loadSync(join(protoRoot, "totp/v1/totp.proto"), { includeDirs: [protoRoot] });
    new ReflectionService(definition).addToServer(server);
  }
  // TLS is done by MtlsListener; grpc-js gets the decrypted connections.
  const mtlsInjector = server.createConnectionInjector(ServerCredentials.createInsecure());
  mtls = await startStep("TOTP_LISTEN", address(config.listen), () =>
    MtlsListener.listen({
      ...config.listen,
      certificates: certificates.current,
      handshakeTimeoutMs: config.connections.handshakeTimeoutMs,
      maxConnections: config.connections.maxConnections,
      admits: (certificate) =>
        !("refused" in clientRule(policy.current(), certificate?.id, certificate?.notBefore ?? 0)),
      refusedGraceMs: REFUSED_CLIENT_GRACE_MS,
      onCut: (reason, certificate) => {
        metrics.connectionsCut.inc({ reason });
        log.warn({ client: certificate?.id, reason }, "connection cut");
      },
      serve: (socket) => mtlsInjector.injectConnection(socket),
    }),
  );
  const { port } = mtls;

  let healthServer: Server | undefined;
  let healthListener: NetServer | undefined;
  const { healthListen } = config;
  if (healthListen) {
    // Kubernetes probes cannot present a client certificate: this port answers health checks and nothing else.
    const probeServer = new Server({
      "grpc.max_receive_message_length": 1024,
      "grpc.max_concurrent_streams": PROBE_MAX_STREAMS,
      "grpc.max_connection_idle_ms": PROBE_IDLE_MS,
    });
    // Only Check is added; Watch and List answer UNIMPLEMENTED.
    health.addToServer({
      addService: (service, { check }) => {
        if (check) probeServer.addService(service, { check });
      },
    });
    const injector = probeServer.createConnectionInjector(ServerCredentials.createInsecure());
    healthListener = await startStep("TOTP_HEALTH_LISTEN", address(healthListen), () =>
      listenPlain(healthListen, PROBE_MAX_CONNECTIONS, (socket) => injector.injectConnection(socket)),
    );
    healthServer = probeServer;
  }
  const healthPort = healthListener && portOf(healthListener);
  let metricsServer: MetricsServer | undefined;
  const { metricsListen } = config;
  if (metricsListen) {
    metricsServer = await startStep("TOTP_METRICS_LISTEN", address(metricsListen), () =>
      startMetricsServer(metrics, metricsListen.host, metricsListen.port),
    );
  }

  async function shutdown(): Promise<void> {
    shuttingDown = true;
    setHealth("NOT_SERVING");
    clearInterval(probeTimer);
    clearInterval(summaryTimer);
    mtls?.close();
    await new Promise<void>((resolve) => {
      let cut: NodeJS.Timeout | undefined;
      const force = setTimeout(() => {
        log.warn(
          { graceMs: config.shutdownGraceMs, calls: inFlight.size },
          "grace period over; answering the calls still running UNAVAILABLE",
        );
        // A copy: each call leaves the set as it is answered.
        for (const abandon of [...inFlight]) abandon();
        // Answered, the last streams end and tryShutdown completes; a connection that still does not close is cut.
        cut = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, CUT_OFF_MS);
      }, config.shutdownGraceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        clearTimeout(cut);
        resolve();
      });
    });
    healthListener?.close();
    healthServer?.forceShutdown();
    await metricsServer?.close();
    certificates.close();
    policy.close();
    writeSummaries();
    await audit.close();
    clearInterval(headTimer);
    anchorHead();
    await store.close();
    redis?.close();
  }

  return { port, healthPort, metricsPort: metricsServer?.port, shutdown, reopenAuditFile: () => audit.reopen() };
}
