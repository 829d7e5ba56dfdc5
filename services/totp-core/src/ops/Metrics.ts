import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * Latency buckets in seconds. A warm GenerateCode answers in well under a millisecond, so the buckets are dense
 * below 10 ms, where a regression would otherwise vanish into a single bucket; Vault calls use the same ones.
 */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * totp-core's Prometheus metrics, on a registry of their own: several instances can live in one process (tests),
 * and nothing registered globally by a dependency leaks into the scrape. Our metrics are prefixed `totp_`; the
 * default process and Node.js metrics keep their standard names, which dashboards expect.
 */
export class Metrics {
  readonly registry = new Registry();
  /** `code` is the gRPC status name, e.g. "OK" or "NOT_FOUND". */
  readonly rpcRequests = new Counter({
    name: "totp_rpc_requests_total",
    help: "RPCs answered, by method and gRPC status code.",
    labelNames: ["method", "code"] as const,
    registers: [this.registry],
  });
  readonly rpcDuration = new Histogram({
    name: "totp_rpc_duration_seconds",
    help: "Time from receiving an RPC to answering it.",
    labelNames: ["method"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  /** `store` is the SeedStore kind; `op` the Vault call (kvRead, totpCode, ...) or the file store's operation. */
  readonly storeDuration = new Histogram({
    name: "totp_store_duration_seconds",
    help: "Time taken by round trips to the seed store (Vault calls, or the encrypted file), by operation.",
    labelNames: ["store", "op"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: "totp_store_errors_total",
    help: "Seed store operations that failed.",
    labelNames: ["store", "op"] as const,
    registers: [this.registry],
  });
  readonly seedCache = new Counter({
    name: "totp_seed_cache_total",
    help: "Seed cache lookups, by result (hit, miss, coalesced, or checked against the store first).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  /** `kind` names the limit that refused (see RateLimitName). */
  readonly rateLimited = new Counter({
    name: "totp_rate_limited_total",
    help: "Calls refused by a rate limit, by the limit that refused them.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  /** `reason`: `not_admitted` (the policy does not, or no longer, know the certificate) or `refusals` (over budget). */
  readonly connectionsCut = new Counter({
    name: "totp_connections_cut_total",
    help: "Connections on the mTLS port closed by totp-core: clients the policy does not admit, or over their budget of refused calls.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  #redisSource: (() => boolean) | undefined;
  readonly redisUp = new Gauge({
    name: "totp_redis_up",
    help: "1 while Redis answers (shared rate limits), 0 while this replica counts limits alone. No sample without Redis.",
    registers: [this.registry],
    collect: () => {
      const up = this.#redisSource?.();
      if (up === undefined) this.redisUp.remove();
      else this.redisUp.set(up ? 1 : 0);
    },
  });
  readonly redisFallbacks = new Counter({
    name: "totp_redis_fallback_total",
    help: "Calls whose rate limits were counted per process because Redis was unavailable.",
    registers: [this.registry],
  });
  readonly tlsCertificateExpiry = new Gauge({
    name: "totp_tls_certificate_expiry_timestamp_seconds",
    help: "When the server certificate in use expires, in Unix seconds.",
    registers: [this.registry],
  });
  /** Where the Vault token's TTL is read at each scrape; none without a Vault store. */
  #tokenTtlSource: (() => number | undefined) | undefined;
  readonly vaultTokenTtl = new Gauge({
    name: "totp_vault_token_ttl_seconds",
    help:
      "Seconds until the Vault token in use expires, as of the scrape. No sample before the first login, " +
      "for a token that never expires (a root token), or without a Vault store.",
    registers: [this.registry],
    // Computed when scraped rather than set at each renewal: while renewals fail the value must keep falling, or an
    // alert on a token about to expire would never fire.
    collect: () => {
      // Nothing watched (no Vault store) shows no sample, like a token that never expires.
      const seconds = this.#tokenTtlSource?.();
      if (seconds === undefined) this.vaultTokenTtl.remove();
      else this.vaultTokenTtl.set(seconds);
    },
  });

  #auditSource: { bytesWritten: () => number; freeBytes: () => number | undefined } | undefined;
  readonly auditBytes = new Counter({
    name: "totp_audit_written_bytes_total",
    help: "Bytes of audit lines written by this process.",
    registers: [this.registry],
    collect: () => {
      this.auditBytes.reset();
      this.auditBytes.inc(this.#auditSource?.bytesWritten() ?? 0);
    },
  });
  readonly auditFreeBytes = new Gauge({
    name: "totp_audit_volume_free_bytes",
    help: "Bytes free for unprivileged writes on the audit file's volume. No sample when the audit log goes to stdout.",
    registers: [this.registry],
    collect: () => {
      const free = this.#auditSource?.freeBytes();
      if (free === undefined) this.auditFreeBytes.remove();
      else this.auditFreeBytes.set(free);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Shows the Vault token's TTL from `ttlSeconds` (undefined: no sample), read at each scrape. */
  watchVaultToken(ttlSeconds: () => number | undefined): void {
    this.#tokenTtlSource = ttlSeconds;
  }

  /** Shows what the audit log has written and the room left on its volume (undefined: no file), read at each scrape. */
  watchAudit(bytesWritten: () => number, freeBytes: () => number | undefined): void {
    this.#auditSource = { bytesWritten, freeBytes };
  }

  /** Shows whether Redis is available, read at each scrape. */
  watchRedis(available: () => boolean): void {
    this.#redisSource = available;
  }

  /** Runs a store operation, recording its duration and, when it throws, an error. */
  async timeStore<T>(store: string, op: string, run: () => Promise<T>): Promise<T> {
    const labels = { store, op };
    // A plain clock read spares startTimer's closure and label copy.
    const started = performance.now();
    try {
      return await run();
    } catch (err) {
      this.storeErrors.inc(labels);
      throw err;
    } finally {
      this.storeDuration.observe(labels, (performance.now() - started) / 1000);
    }
  }
}
