import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { InvalidationChannel } from "../store/SingleFlightCache.js";

/** Redis as configured (TOTP_REDIS_*); the config module validates it. */
export interface RedisConfig {
  /** redis:// or rediss:// URL; it may hold a password, so it is never logged. */
  url: string;
  /** host:port, what logs name. */
  address: string;
  tls: boolean;
  /** From TOTP_REDIS_PASSWORD(_FILE), when the URL holds none. */
  password: string | undefined;
  /** A private CA for rediss://; the public roots otherwise. */
  caPem: string | undefined;
  /** The longest a command may take before Redis counts as unavailable. */
  timeoutMs: number;
}

/** While Redis is unavailable, how often a PING asks whether it is back. */
const PROBE_MS = 1000;
/** Where replicas announce the labels they changed. */
export const INVALIDATION_CHANNEL = "totp-core:invalidate";

/**
 * totp-core's two connections to Redis (commands, and the subscription to invalidations) and what it knows of
 * them. Redis is shared state the replicas use, never a dependency: a command that fails or outlasts the timeout
 * marks it unavailable (logged once; `totp_redis_up` shows it), its users then fall back to their per-process means at
 * once instead of waiting on it again, and a PING every second brings it back (logged once). Commands are never
 * queued while disconnected (they fail at once) and pipelined automatically, so a call costs one shared write.
 */
export class RedisLink implements InvalidationChannel {
  readonly client: Redis;
  readonly #subscriber: Redis;
  readonly #config: RedisConfig;
  readonly #log: Logger;
  #available = false;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;
  /** What the server or the socket last said went wrong: a failed connect() only says "Connection is closed". */
  #lastError: Error | undefined;

  private constructor(config: RedisConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    const options: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      commandTimeout: config.timeoutMs,
      connectTimeout: Math.max(1000, config.timeoutMs),
      maxRetriesPerRequest: 0,
      // Reconnects quickly at first, then every 2 s: the probe decides when Redis counts as back.
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      ...(config.password ? { password: config.password } : {}),
      ...(config.tls && config.caPem ? { tls: { ca: config.caPem } } : {}),
    };
    this.client = new Redis(config.url, options);
    // Subscribed here at each ready, the first included: ioredis would only renew a subscription made on an earlier
    // connection, so a replica whose first attempt failed (Redis down at start) would never hear of invalidations.
    this.#subscriber = this.client.duplicate({ autoResubscribe: false });
    this.#subscriber.on("ready", () => {
      // A connection lost before it answers is subscribed at its next ready; the freshness check covers the gap.
      this.#subscriber.subscribe(INVALIDATION_CHANNEL).catch(() => {});
    });
    // Failures show in the commands that meet them, and the last one in a failed start's line; unheard, ioredis
    // would print every reconnection attempt's error.
    this.client.on("error", (err: Error) => {
      this.#lastError = err;
    });
    this.#subscriber.on("error", () => {});
    this.client.on("close", () => this.markUnavailable(new Error("connection closed")));
    this.client.on("ready", () => this.#markAvailable());
  }

  /**
   * Connects both, waiting at most for one connection attempt: a Redis that does not answer at start is reported
   * in one line and the service starts without it, to pick it up once it answers.
   */
  static async connect(config: RedisConfig, log: Logger): Promise<RedisLink> {
    const link = new RedisLink(config, log);
    // A failed first attempt is retried like any reconnection; the subscription follows its ready.
    link.#subscriber.connect().catch(() => {});
    try {
      await link.client.connect();
    } catch (err) {
      // A refused password is a reason to give, and the one a closed connection would hide.
      link.#goDown(link.#lastError ?? err, "Redis unreachable at start");
    }
    return link;
  }

  /** Whether commands are worth sending; false from a failure until a probe answers. */
  get available(): boolean {
    return this.#available;
  }

  /** Records that a command failed: the first failure logs and starts probing, later ones until then do nothing. */
  markUnavailable(err: unknown): void {
    if (this.#available) this.#goDown(err, "Redis unavailable");
  }

  #goDown(err: unknown, what: string): void {
    if (this.#closed) return;
    this.#available = false;
    this.#log.warn(
      { redis: this.#config.address, reason: err instanceof Error ? err.message : String(err) },
      `${what}: rate limits are per process until it answers`,
    );
    this.#probe ??= setInterval(() => {
      this.client.ping().then(
        () => this.#markAvailable(),
        () => {},
      );
    }, PROBE_MS);
    this.#probe.unref();
  }

  #markAvailable(): void {
    clearInterval(this.#probe);
    this.#probe = undefined;
    if (this.#available || this.#closed) return;
    this.#available = true;
    this.#log.info({ redis: this.#config.address }, "Redis available: rate limits and cache invalidations shared");
  }

  publish(key: string): void {
    if (!this.#available) return;
    this.client.publish(INVALIDATION_CHANNEL, key).catch((err: unknown) => this.markUnavailable(err));
  }

  subscribe(drop: (key: string) => void): void {
    this.#subscriber.on("message", (channel: string, key: string) => {
      if (channel === INVALIDATION_CHANNEL) drop(key);
    });
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#probe);
    this.client.disconnect();
    this.#subscriber.disconnect();
  }
}
