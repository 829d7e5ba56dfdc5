import { type Logger, pino } from "pino";
import { startStep } from "../config.js";
import type { Metrics } from "../ops/Metrics.js";
import { VaultClient, type VaultClientOptions } from "../vault/VaultClient.js";
import { FileStore } from "./FileStore.js";
import { recordSeedStore, type SeedCacheOptions } from "./recordSeedStore.js";
import type { SeedStore } from "./SeedStore.js";
import type { InvalidationChannel } from "./SingleFlightCache.js";
import { timedCalls } from "./timedCalls.js";
import { VaultKvStore, type VaultKvStoreOptions } from "./VaultKvStore.js";
import { VaultTotpStore, type VaultTotpStoreOptions } from "./VaultTotpStore.js";

/** Which store, and its settings; the config module maps the environment to this. */
export type SeedStoreOptions =
  | ({ kind: "vault-kv"; vault: VaultClientOptions } & VaultKvStoreOptions)
  | ({ kind: "vault-totp"; vault: VaultClientOptions } & VaultTotpStoreOptions)
  | {
      kind: "file";
      /** The encrypted file; created when absent. */
      path: string;
      /** 32 bytes (AES-256). */
      key: Buffer;
    };

export interface SeedStoreRuntime {
  /** How long a decrypted seed (or, for vault-totp, a code) stays in memory: 0 to 30 000 ms, default 10 000. */
  cacheTtlMs?: number;
  /** How old a cached seed may be before Vault is asked whether it changed; default 500 ms. */
  cacheFreshnessMs?: number;
  /** Announces changed labels to the other replicas and drops the ones they changed (Redis). */
  invalidation?: InvalidationChannel | undefined;
  /** Counts cache lookups, times store operations and shows the Vault token's TTL. */
  metrics?: Metrics;
  log?: Logger;
}

const DEFAULT_CACHE_TTL_MS = 10_000;
const DEFAULT_CACHE_FRESHNESS_MS = 500;

/** What the store metrics time: each round trip to Vault, by the Vault operation it is. */
const VAULT_CALLS = [
  "health",
  "kvRead",
  "kvCreate",
  "kvReplace",
  "kvReplaceAt",
  "kvVersion",
  "kvLiveVersion",
  "kvExists",
  "kvDelete",
  "kvDeleteVersion",
  "kvList",
  "kvMetadata",
  "kvSetCustomMetadata",
  "totpImport",
  "totpCode",
  "totpDelete",
] as const;
/** The encrypted file's operations; reads answer from memory, writes rewrite the file. */
const FILE_CALLS = ["read", "write", "remove", "labels", "describe", "ping"] as const;

/**
 * The configured store, ready to serve. The file store opens its file here, so a wrong key fails the start; the
 * Vault stores log in on first use, so a Vault that is down at start only makes health NOT_SERVING until it is back.
 */
export async function createSeedStore(options: SeedStoreOptions, runtime: SeedStoreRuntime = {}): Promise<SeedStore> {
  const { metrics } = runtime;
  const log = runtime.log ?? pino({ enabled: false });
  const cache: SeedCacheOptions = {
    ttlMs: runtime.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS,
    freshnessMs: runtime.cacheFreshnessMs ?? DEFAULT_CACHE_FRESHNESS_MS,
    channel: runtime.invalidation,
    ...(metrics ? { onLookup: (result) => metrics.seedCache.inc({ result }) } : {}),
  };
  const vaultClient = (vault: VaultClientOptions) => {
    const client = new VaultClient(vault, { log });
    if (!metrics) return client;
    metrics.watchVaultToken(() => client.tokenTtlSeconds());
    return timedCalls(client, options.kind, VAULT_CALLS, metrics);
  };

  switch (options.kind) {
    case "file": {
      const file = await startStep("TOTP_FILE_PATH", options.path, () => FileStore.open(options.path, options.key));
      return recordSeedStore(metrics ? timedCalls(file, "file", FILE_CALLS, metrics) : file, cache);
    }
    case "vault-kv":
      return recordSeedStore(new VaultKvStore(vaultClient(options.vault), options, log), cache);
    case "vault-totp":
      return new VaultTotpStore(vaultClient(options.vault), options, cache, log);
  }
}
