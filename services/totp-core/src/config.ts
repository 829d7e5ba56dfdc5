import { readFileSync } from "node:fs";
import { getSystemErrorMap } from "node:util";
import { z } from "zod";
import type { RateLimitPolicy } from "./ops/RateLimits.js";
import type { RedisConfig } from "./redis/RedisLink.js";
import type { SeedStoreOptions } from "./store/createSeedStore.js";
import type { VaultAuth, VaultClientOptions } from "./vault/VaultClient.js";

/**
 * totp-core's whole configuration, read from the environment once at start. Every problem is reported with the
 * name of the variable, so an operator can fix a Deployment without reading code.
 */
export interface Config {
  listen: HostPort;
  tls: { certFile: string; keyFile: string; caFile: string; reloadMs: number };
  policyFile: string;
  policyReloadMs: number;
  store: SeedStoreOptions;
  cacheTtlMs: number;
  cacheFreshnessMs: number;
  /** Shared by the replicas for rate limits and cache invalidation; undefined: each process on its own. */
  redis: RedisConfig | undefined;
  healthListen: HostPort | undefined;
  metricsListen: HostPort | undefined;
  auditFile: string | undefined;
  /** The key of the audit chain's HMAC; undefined: plain SHA-256, tamper-evident only against accidents. */
  auditKeyFile: string | undefined;
  /** How often the audit chain's head (seq and hash) goes to the service log, to be anchored off the host. */
  auditHeadIntervalMs: number;
  /** Refused calls per minute that get their own audit line, per client identity; the rest are summarised. */
  refusalsPerClientPerMinute: number;
  reflection: boolean;
  shutdownGraceMs: number;
  logLevel: string;
  rateLimits: RateLimitPolicy;
  keepalive: { timeMs: number; timeoutMs: number; maxConnectionAgeMs: number; maxConcurrentStreams: number };
  /** The mTLS port: how long a TLS handshake may take, and how many connections may be open at once. */
  connections: { handshakeTimeoutMs: number; maxConnections: number };
}

export interface HostPort {
  host: string;
  port: number;
}

/** A configuration problem; its message names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Runs one start step that uses the file or address `value` configured in `variable` (reading a certificate,
 * binding a port). A failure becomes a ConfigError naming both, so it stops the start like a bad value in the
 * environment: one line an operator can act on, instead of a stack trace naming a file but not the setting.
 */
export async function startStep<T>(variable: string, value: string, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw unusable(variable, value, err);
  }
}

/** The contents of a file named by `variable`; a ConfigError naming it when the file cannot be read. */
function readConfiguredFile(variable: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw unusable(variable, file, err);
  }
}

function unusable(variable: string, value: string, err: unknown): ConfigError {
  return new ConfigError(`${variable}: ${reasonOf(value, err)}`, { cause: err });
}

/** What Node's system errors (file and socket calls) carry besides a message that repeats them. */
interface SystemError extends Error {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
}

/**
 * Why `value` could not be used, in one line. A system error says what was tried on which file or address and
 * the system's reason ("cannot open /x/cert.pem (ENOENT: no such file or directory)"); any other failure keeps
 * its own message, which then only gains the value if it does not name it already.
 */
function reasonOf(value: string, err: unknown): string {
  if (!(err instanceof Error)) return `${value}: ${String(err)}`;
  const { code, syscall, path } = err as SystemError;
  if (typeof code !== "string" || typeof syscall !== "string") {
    return err.message.includes(value) ? err.message : `${value}: ${err.message}`;
  }
  if (code === "EADDRINUSE") return `${value} is already in use`;
  // The path the call failed on, which can be a file next to the value (the file store writes a temporary file).
  const target = syscall === "listen" ? `listen on ${value}` : `${syscall} ${typeof path === "string" ? path : value}`;
  return `cannot ${target} (${code}: ${systemErrorText(code)})`;
}

/** The system's words for an error code: "no such file or directory" for ENOENT. */
function systemErrorText(code: string): string {
  for (const [name, text] of getSystemErrorMap().values()) if (name === code) return text;
  return "system error";
}

type Env = Record<string, string | undefined>;

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected host:port, for example 0.0.0.0:8443")
  .transform((text, ctx): HostPort => {
    const at = text.lastIndexOf(":");
    const port = Number(text.slice(at + 1));
    if (port > 65535) ctx.addIssue({ code: "custom", message: "port must be 0 to 65535" });
    return { host: text.slice(0, at).replace(/^\[|\]$/g, ""), port };
  });

const boolean = z.enum(["true", "false", "1", "0", ""]).transform((v) => v === "true" || v === "1");
const millis = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const perMinute = (fallback: number) => z.coerce.number().int().min(1).max(1_000_000).default(fallback);
const path = z.string().min(1);

const schema = z.object({
  TOTP_LISTEN: hostPort.default({ host: "0.0.0.0", port: 8443 }),
  TOTP_TLS_CERT: path,
  TOTP_TLS_KEY: path,
  TOTP_TLS_CA: path,
  TOTP_TLS_RELOAD_MS: millis(10_000, 100),
  TOTP_POLICY_FILE: path,
  TOTP_POLICY_RELOAD_MS: millis(2_000, 100),
  TOTP_STORE: z.enum(["vault-kv", "vault-totp", "file"]).optional(),
  TOTP_CACHE_TTL_MS: millis(10_000).pipe(z.number().max(30_000, "at most 30000: a seed stays in memory no longer")),
  TOTP_CACHE_FRESHNESS_MS: millis(500).pipe(z.number().max(30_000, "at most 30000, the longest cache TTL")),
  TOTP_REDIS_CA_FILE: path.optional(),
  // A GenerateCode waits on a hung Redis this long at most, once: then the replica uses its own limits until Redis
  // answers a probe again. A healthy Redis on the same network answers in well under a millisecond.
  TOTP_REDIS_TIMEOUT_MS: millis(100, 10).pipe(z.number().max(5000, "at most 5000")),
  TOTP_HEALTH_LISTEN: hostPort.optional(),
  TOTP_METRICS_LISTEN: hostPort.optional(),
  TOTP_AUDIT_FILE: path.optional(),
  TOTP_AUDIT_KEY_FILE: path.optional(),
  TOTP_AUDIT_HEAD_INTERVAL_MS: millis(60_000, 1000),
  TOTP_RATE_REFUSALS_PER_CLIENT: perMinute(60),
  TOTP_REFLECTION: boolean.default(false),
  TOTP_SHUTDOWN_GRACE_MS: millis(10_000),
  TOTP_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TOTP_RATE_CODES_PER_LABEL: perMinute(10),
  TOTP_RATE_REQUESTS_PER_PRINCIPAL: perMinute(60),
  TOTP_RATE_WRITES_PER_PRINCIPAL: perMinute(20),
  TOTP_RATE_DELETES_PER_PRINCIPAL: perMinute(20),
  TOTP_KEEPALIVE_TIME_MS: millis(60_000, 1000),
  TOTP_KEEPALIVE_TIMEOUT_MS: millis(20_000, 1000),
  TOTP_MAX_CONNECTION_AGE_MS: millis(30 * 60_000, 1000),
  TOTP_MAX_CONCURRENT_STREAMS: z.coerce.number().int().min(1).max(10_000).default(256),
  TOTP_TLS_HANDSHAKE_TIMEOUT_MS: millis(5_000, 100).pipe(z.number().max(120_000, "at most 120000")),
  TOTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(1024),
  VAULT_ADDR: z.url({ protocol: /^https?$/ }).optional(),
  VAULT_CACERT: path.optional(),
  // A hung Vault must cost a call well under 2 s and end in UNAVAILABLE (retryable) before the client SDK's 5 s
  // deadline turns it into DEADLINE_EXCEEDED; a healthy Vault answers a KV read in milliseconds.
  VAULT_TIMEOUT_MS: millis(1_500, 100),
  VAULT_AUTH_METHOD: z.enum(["token", "approle", "kubernetes"]).optional(),
  VAULT_ROLE_ID: z.string().min(1).optional(),
  VAULT_APPROLE_MOUNT: z.string().min(1).default("approle"),
  VAULT_K8S_ROLE: z.string().min(1).optional(),
  VAULT_K8S_MOUNT: z.string().min(1).default("kubernetes"),
  VAULT_K8S_JWT_FILE: path.default("/var/run/secrets/kubernetes.io/serviceaccount/token"),
  TOTP_VAULT_KV_MOUNT: z.string().min(1).default("secret"),
  TOTP_VAULT_PREFIX: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*$/, "expected path segments of a-z, 0-9, _ and -")
    .default("totp"),
  TOTP_VAULT_TOTP_MOUNT: z.string().min(1).default("totp"),
  TOTP_FILE_PATH: path.default("totp-seeds.enc"),
});

/** The variables that may hold a secret value; each can instead name a file with the `_FILE` suffix. */
const SECRET_VARIABLES = ["VAULT_TOKEN", "VAULT_SECRET_ID", "TOTP_FILE_KEY", "TOTP_REDIS_PASSWORD", "TOTP_REDIS_URL"];

/**
 * Removes the secret values from `env` once the configuration has been read, so that no library (Vault clients read
 * VAULT_TOKEN by themselves), child process or dump of the environment finds them later. Answers the names of the
 * secrets that were given there rather than as files (a Redis URL only when it holds credentials): the kernel keeps
 * a process's initial environment readable in /proc/<pid>/environ whatever the process does, so only a `_FILE`
 * keeps a secret out of it.
 */
export function forgetSecrets(env: Env): string[] {
  const given = SECRET_VARIABLES.filter((name) => {
    const value = env[name];
    return value ? name !== "TOTP_REDIS_URL" || /\/\/[^/]*@/.test(value) : false;
  });
  for (const name of SECRET_VARIABLES) delete env[name];
  return given;
}

/** Reads a secret from NAME, or from the file named by NAME_FILE (Kubernetes Secret mounts). */
export function secretFromEnv(env: Env, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new ConfigError(`${name} and ${name}_FILE are both set: keep one`);
  if (direct) return direct;
  if (!file) return undefined;
  return readConfiguredFile(`${name}_FILE`, file).trim();
}

/** The 32-byte file-store key, given as 64 hex digits or as base64. */
export function parseFileKey(text: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) return Buffer.from(text, "base64");
  throw new ConfigError("TOTP_FILE_KEY: expected 32 bytes as 64 hex digits or as base64");
}

function vaultAuth(env: Env, v: z.infer<typeof schema>): VaultAuth {
  const token = secretFromEnv(env, "VAULT_TOKEN");
  const secretId = secretFromEnv(env, "VAULT_SECRET_ID");
  const method = v.VAULT_AUTH_METHOD ?? (token ? "token" : v.VAULT_ROLE_ID ? "approle" : "kubernetes");
  if (method === "token") {
    if (!token) throw new ConfigError("VAULT_TOKEN: required with VAULT_AUTH_METHOD=token (or set VAULT_TOKEN_FILE)");
    return { method, token };
  }
  if (method === "approle") {
    if (!v.VAULT_ROLE_ID) throw new ConfigError("VAULT_ROLE_ID: required with VAULT_AUTH_METHOD=approle");
    if (!secretId) throw new ConfigError("VAULT_SECRET_ID: required with VAULT_AUTH_METHOD=approle");
    return { method, roleId: v.VAULT_ROLE_ID, secretId, mount: v.VAULT_APPROLE_MOUNT };
  }
  if (!v.VAULT_K8S_ROLE) {
    throw new ConfigError("VAULT_K8S_ROLE: required with Kubernetes auth (or set VAULT_TOKEN or VAULT_ROLE_ID)");
  }
  // The client reads the token again at each login (Kubernetes rotates it); reading it once here turns a wrong path
  // or a pod without a service-account token into a start failure naming the variable, not a login that keeps failing.
  readConfiguredFile("VAULT_K8S_JWT_FILE", v.VAULT_K8S_JWT_FILE);
  return { method, role: v.VAULT_K8S_ROLE, jwtPath: v.VAULT_K8S_JWT_FILE, mount: v.VAULT_K8S_MOUNT };
}

/**
 * Redis as its users write it: a `redis://` or `rediss://` (TLS) URL, optionally with `user:password@` and a
 * database number; the URL itself may hold the password, so it can come from a file too.
 */
function redisConfig(env: Env, v: z.infer<typeof schema>): RedisConfig | undefined {
  const text = secretFromEnv(env, "TOTP_REDIS_URL");
  const password = secretFromEnv(env, "TOTP_REDIS_PASSWORD");
  if (!text) {
    for (const name of ["TOTP_REDIS_PASSWORD", "TOTP_REDIS_CA_FILE"]) {
      if (env[name] || env[`${name}_FILE`]) throw new ConfigError(`${name}: set TOTP_REDIS_URL too, or remove it`);
    }
    return undefined;
  }
  // The URL's text never goes into a message: it may hold a password.
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError("TOTP_REDIS_URL: not a URL; expected redis://[user:password@]host:port[/db] or rediss://");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ConfigError("TOTP_REDIS_URL: expected a redis:// or rediss:// (TLS) URL");
  }
  if (!url.hostname) throw new ConfigError("TOTP_REDIS_URL: no host in the URL");
  if (url.pathname.length > 1 && !/^\/\d{1,2}$/.test(url.pathname)) {
    throw new ConfigError("TOTP_REDIS_URL: the path must be a database number, e.g. redis://redis:6379/0");
  }
  if (password && url.password) {
    throw new ConfigError("TOTP_REDIS_PASSWORD_FILE: TOTP_REDIS_URL holds a password already: keep one");
  }
  if (v.TOTP_REDIS_CA_FILE && url.protocol !== "rediss:") {
    throw new ConfigError("TOTP_REDIS_CA_FILE: only used with TLS; write the URL as rediss://");
  }
  return {
    url: text,
    address: `${url.hostname}:${url.port || "6379"}`,
    tls: url.protocol === "rediss:",
    password,
    caPem: v.TOTP_REDIS_CA_FILE && readConfiguredFile("TOTP_REDIS_CA_FILE", v.TOTP_REDIS_CA_FILE),
    timeoutMs: v.TOTP_REDIS_TIMEOUT_MS,
  };
}

function storeConfig(env: Env, v: z.infer<typeof schema>): SeedStoreOptions {
  const kind = v.TOTP_STORE ?? (v.VAULT_ADDR ? "vault-kv" : "file");
  if (kind === "file") {
    const keyText = secretFromEnv(env, "TOTP_FILE_KEY");
    if (!keyText) throw new ConfigError("TOTP_FILE_KEY: required with the file store (or set TOTP_FILE_KEY_FILE)");
    return { kind, path: v.TOTP_FILE_PATH, key: parseFileKey(keyText) };
  }
  if (!v.VAULT_ADDR) throw new ConfigError(`VAULT_ADDR: required with TOTP_STORE=${kind}`);
  const vault: VaultClientOptions = {
    addr: v.VAULT_ADDR,
    caCertPem: v.VAULT_CACERT && readConfiguredFile("VAULT_CACERT", v.VAULT_CACERT),
    timeoutMs: v.VAULT_TIMEOUT_MS,
    auth: vaultAuth(env, v),
  };
  const common = { vault, kvMount: v.TOTP_VAULT_KV_MOUNT, prefix: v.TOTP_VAULT_PREFIX };
  return kind === "vault-kv" ? { kind, ...common } : { kind, ...common, totpMount: v.TOTP_VAULT_TOTP_MOUNT };
}

/** Validates the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  // Empty strings mean "unset", as a Kubernetes env entry with an empty value would.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "environment");
    const message = issue?.code === "invalid_type" && present[name] === undefined ? "required" : issue?.message;
    throw new ConfigError(`${name}: ${message}`);
  }
  const v = parsed.data;
  return {
    listen: v.TOTP_LISTEN,
    tls: { certFile: v.TOTP_TLS_CERT, keyFile: v.TOTP_TLS_KEY, caFile: v.TOTP_TLS_CA, reloadMs: v.TOTP_TLS_RELOAD_MS },
    policyFile: v.TOTP_POLICY_FILE,
    policyReloadMs: v.TOTP_POLICY_RELOAD_MS,
    store: storeConfig(env, v),
    cacheTtlMs: v.TOTP_CACHE_TTL_MS,
    cacheFreshnessMs: v.TOTP_CACHE_FRESHNESS_MS,
    redis: redisConfig(env, v),
    healthListen: v.TOTP_HEALTH_LISTEN,
    metricsListen: v.TOTP_METRICS_LISTEN,
    auditFile: v.TOTP_AUDIT_FILE,
    auditKeyFile: v.TOTP_AUDIT_KEY_FILE,
    auditHeadIntervalMs: v.TOTP_AUDIT_HEAD_INTERVAL_MS,
    refusalsPerClientPerMinute: v.TOTP_RATE_REFUSALS_PER_CLIENT,
    reflection: v.TOTP_REFLECTION,
    shutdownGraceMs: v.TOTP_SHUTDOWN_GRACE_MS,
    logLevel: v.TOTP_LOG_LEVEL,
    rateLimits: {
      codesPerLabelPerMinute: v.TOTP_RATE_CODES_PER_LABEL,
      requestsPerMinute: v.TOTP_RATE_REQUESTS_PER_PRINCIPAL,
      writesPerMinute: v.TOTP_RATE_WRITES_PER_PRINCIPAL,
      deletesPerMinute: v.TOTP_RATE_DELETES_PER_PRINCIPAL,
    },
    keepalive: {
      timeMs: v.TOTP_KEEPALIVE_TIME_MS,
      timeoutMs: v.TOTP_KEEPALIVE_TIMEOUT_MS,
      maxConnectionAgeMs: v.TOTP_MAX_CONNECTION_AGE_MS,
      maxConcurrentStreams: v.TOTP_MAX_CONCURRENT_STREAMS,
    },
    connections: { handshakeTimeoutMs: v.TOTP_TLS_HANDSHAKE_TIMEOUT_MS, maxConnections: v.TOTP_MAX_CONNECTIONS },
  };
}
