/** How one lookup was answered, for metrics: from memory, by starting a load, or by joining a load in flight. */
export type CacheOutcome = "hit" | "miss" | "coalesced";

/** The longest a decrypted seed may stay in memory (the design's bound). */
const MAX_CACHE_TTL_MS = 30_000;

export interface SingleFlightCacheOptions {
  /** How long a loaded value is kept, 0 to MAX_CACHE_TTL_MS. 0 keeps nothing but still merges concurrent loads. */
  ttlMs: number;
  onLookup?: (outcome: CacheOutcome) => void;
}

interface Entry<V> {
  value: V;
  timer: NodeJS.Timeout;
}

/**
 * A short-lived cache where concurrent misses for one key share one load: 1000 requests for a cold label make one
 * store read, not 1000. Absent values (undefined) are never kept, so a label registered elsewhere shows up at once.
 * Each entry is dropped by its own timer rather than on the next lookup, so a seed never outlives its TTL in memory.
 */
export class SingleFlightCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Loads under way. invalidate() removes a load from here, which tells it not to store what it read. */
  private readonly loads = new Map<string, Promise<V | undefined>>();
  private readonly ttlMs: number;
  private readonly onLookup: (outcome: CacheOutcome) => void;

  constructor(options: SingleFlightCacheOptions) {
    if (!Number.isInteger(options.ttlMs) || options.ttlMs < 0 || options.ttlMs > MAX_CACHE_TTL_MS) {
      throw new RangeError(`cache TTL must be an integer from 0 to ${MAX_CACHE_TTL_MS} ms, got ${options.ttlMs}`);
    }
    this.ttlMs = options.ttlMs;
    this.onLookup = options.onLookup ?? (() => {});
  }

  /**
   * The value for `key`, loading it when absent. `maxAgeMs` can shorten an entry's life below the TTL (a code is
   * worth nothing after its time step).
   */
  get(key: string, load: () => Promise<V | undefined>, maxAgeMs?: (value: V) => number): Promise<V | undefined> {
    const entry = this.entries.get(key);
    if (entry) {
      this.onLookup("hit");
      return Promise.resolve(entry.value);
    }
    const inFlight = this.loads.get(key);
    if (inFlight) {
      this.onLookup("coalesced");
      return inFlight;
    }
    this.onLookup("miss");
    const loading: Promise<V | undefined> = load().then(
      (value) => {
        // Not current any more when a write invalidated the key while this load ran: what it read may be stale.
        if (this.loads.get(key) === loading) {
          this.loads.delete(key);
          if (value !== undefined) this.keep(key, value, Math.min(this.ttlMs, maxAgeMs?.(value) ?? this.ttlMs));
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

  /** Forgets `key` after a write or delete, including what a load already under way will answer. */
  invalidate(key: string): void {
    this.drop(key);
    this.loads.delete(key);
  }

  /** Forgets everything and stops the timers (on close). */
  clear(): void {
    for (const key of [...this.entries.keys()]) this.drop(key);
    this.loads.clear();
  }

  private keep(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    const timer = setTimeout(() => this.drop(key), ttlMs);
    // A cache entry must never keep the process alive.
    timer.unref();
    this.entries.set(key, { value, timer });
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(key);
  }
}
