/**
 * How one lookup was answered, for metrics: from memory, by starting a load, by joining a load (or check) in flight,
 * or from memory after asking the store whether the entry is still current.
 */
export type CacheOutcome = "hit" | "miss" | "coalesced" | "checked";

/** The longest a decrypted seed may stay in memory (the design's bound). */
const MAX_CACHE_TTL_MS = 30_000;

/** Tells the other replicas which keys changed here, and this cache which changed there (Redis pub/sub). */
export interface InvalidationChannel {
  publish(key: string): void;
  /** `drop` is called with each key another replica (or this one) published. */
  subscribe(drop: (key: string) => void): void;
}

export interface SingleFlightCacheOptions {
  /** How long a loaded value is kept, 0 to MAX_CACHE_TTL_MS. 0 keeps nothing but still merges concurrent loads. */
  ttlMs: number;
  /**
   * An entry older than this (since it was read, or last found current) is checked with the lookup's `isCurrent`
   * before it answers: that bounds how long a change made by another replica can go unseen here. 0 checks at every
   * lookup (concurrent lookups share one check). Lookups without `isCurrent` are never checked.
   */
  freshnessMs?: number;
  /** Publishes each invalidate() and applies the ones received, so that other replicas drop a changed key at once. */
  channel?: InvalidationChannel | undefined;
  onLookup?: (outcome: CacheOutcome) => void;
}

/** What one lookup may add to the load. */
export interface LookupOptions<V> {
  /** Shortens the entry's life below the TTL (a code is worth nothing after its time step). */
  maxAgeMs?: (value: V) => number;
  /** Resolves true when `value` is still what the store holds: a cheap question (a version number), not a load. */
  isCurrent?: (value: V) => Promise<boolean>;
}

interface Entry<V> {
  value: V;
  timer: NodeJS.Timeout;
  /** performance.now() when it must be gone. */
  expiresAt: number;
  /** performance.now() when the read or check that vouches for it started. */
  checkedAt: number;
}

/**
 * A short-lived cache where concurrent misses for one key share one load: 1000 requests for a cold label make one
 * store read, not 1000. Absent values (undefined) are never kept, so a label registered elsewhere shows up at once.
 * Each entry is dropped by its own timer rather than on the next lookup, so a seed never outlives its TTL in memory.
 * Entries older than the freshness interval are checked before they answer, one check per key at a time; a check
 * that fails drops the entry and fails the lookup, so an entry nobody could vouch for never answers.
 */
export class SingleFlightCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Loads and checks under way. invalidate() removes one from here, which tells it not to store what it read. */
  private readonly loads = new Map<string, Promise<V | undefined>>();
  private readonly ttlMs: number;
  private readonly freshnessMs: number;
  private readonly channel: InvalidationChannel | undefined;
  private readonly onLookup: (outcome: CacheOutcome) => void;

  constructor(options: SingleFlightCacheOptions) {
    if (!Number.isInteger(options.ttlMs) || options.ttlMs < 0 || options.ttlMs > MAX_CACHE_TTL_MS) {
      throw new RangeError(`cache TTL must be an integer from 0 to ${MAX_CACHE_TTL_MS} ms, got ${options.ttlMs}`);
    }
    const freshnessMs = options.freshnessMs ?? MAX_CACHE_TTL_MS;
    if (!(freshnessMs >= 0)) throw new RangeError(`cache freshness must be 0 ms or more, got ${freshnessMs}`);
    this.ttlMs = options.ttlMs;
    this.freshnessMs = freshnessMs;
    this.channel = options.channel;
    this.onLookup = options.onLookup ?? (() => {});
    this.channel?.subscribe((key) => this.forget(key));
  }

  /** The value for `key`, loading it when absent and checking it when older than the freshness interval. */
  get(key: string, load: () => Promise<V | undefined>, options: LookupOptions<V> = {}): Promise<V | undefined> {
    const entry = this.entries.get(key);
    const { isCurrent } = options;
    if (entry && (isCurrent === undefined || performance.now() - entry.checkedAt < this.freshnessMs)) {
      this.onLookup("hit");
      return Promise.resolve(entry.value);
    }
    const inFlight = this.loads.get(key);
    if (inFlight) {
      this.onLookup("coalesced");
      return inFlight;
    }
    if (entry && isCurrent) {
      this.onLookup("checked");
      // Out of the map while it is checked: lookups meanwhile join the check, and an invalidation cancels it.
      this.drop(key);
      const { value, expiresAt } = entry;
      return this.run(
        key,
        async () => ((await isCurrent(value)) ? value : load()),
        // Still current: it keeps the life it had left, the TTL counts from the read that brought the seed here.
        (kept) => (kept === value ? expiresAt - performance.now() : this.lifeOf(kept, options)),
      );
    }
    this.onLookup("miss");
    return this.run(key, load, (value) => this.lifeOf(value, options));
  }

  /** Forgets `key` after a write or delete, here and, through the channel, on every replica. */
  invalidate(key: string): void {
    this.forget(key);
    this.channel?.publish(key);
  }

  /** Forgets everything and stops the timers (on close). */
  clear(): void {
    for (const key of [...this.entries.keys()]) this.drop(key);
    this.loads.clear();
  }

  /** Forgets `key`, including what a load already under way will answer. */
  private forget(key: string): void {
    this.drop(key);
    this.loads.delete(key);
  }

  private lifeOf(value: V, options: LookupOptions<V>): number {
    return Math.min(this.ttlMs, options.maxAgeMs?.(value) ?? this.ttlMs);
  }

  /** Runs one load (or check) for `key` that lookups meanwhile share, and keeps what it answers for `lifeMs`. */
  private run(key: string, load: () => Promise<V | undefined>, lifeMs: (value: V) => number): Promise<V | undefined> {
    const startedAt = performance.now();
    const loading: Promise<V | undefined> = load().then(
      (value) => {
        // Not current any more when a write invalidated the key while this load ran: what it read may be stale.
        if (this.loads.get(key) === loading) {
          this.loads.delete(key);
          if (value !== undefined) this.keep(key, value, lifeMs(value), startedAt);
        }
        return value;
      },
      (err: unknown) => {
        if (this.loads.get(key) === loading) this.loads.delete(key);
        throw err;
      },
    );
    this.loads.set(key, loading);
    return loading;
  }

  private keep(key: string, value: V, ttlMs: number, checkedAt: number): void {
    if (ttlMs <= 0) return;
    const timer = setTimeout(() => this.drop(key), ttlMs);
    // A cache entry must never keep the process alive.
    timer.unref();
    this.entries.set(key, { value, timer, expiresAt: performance.now() + ttlMs, checkedAt });
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(key);
  }
}
