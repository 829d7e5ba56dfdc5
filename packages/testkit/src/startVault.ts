import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ProcessHandle, runProcess } from "./runProcess.js";
import { toolPath } from "./toolPath.js";
import { vaultRequest } from "./vaultRequest.js";
import { waitUntilReady } from "./waitUntilReady.js";
import { withFreePorts } from "./withFreePorts.js";

export interface StartVaultOptions {
  /** Record every request with a file audit device, counted by `countRequests`. */
  auditLog?: boolean;
  /**
   * Not dev mode: file storage, initialized with one unseal key and unsealed, so a test can seal it and restart it
   * on the same port and data (Vault outages). Without it, a dev server in memory with KV v2 at `secret/`.
   */
  persistent?: boolean;
  /**
   * The address it listens on, 127.0.0.1 by default; e.g. a test cluster's bridge gateway, so that pods reach it.
   * The port is still one free on loopback, which is free there too unless something bound every address.
   */
  listenAddress?: string;
}

export interface AppRoleOptions {
  role: string;
  policies: string[];
  /** Vault durations: seconds or strings such as "30s", "1h". */
  tokenTtl?: string | number;
  tokenMaxTtl?: string | number;
  secretIdTtl?: string | number;
  /** Where the AppRole auth method is mounted; enabled on first use. */
  mount?: string;
}

/** One line of the file audit device; values other than paths and operations are HMACed by Vault. */
export interface AuditEntry {
  type: string;
  request?: { path?: string; operation?: string; mount_type?: string };
  [key: string]: unknown;
}

export interface Vault {
  /** http://<listenAddress>:<port> */
  readonly addr: string;
  /** The root token (random per server). */
  readonly token: string;
  /** The server's process id, e.g. to read its CPU time from /proc; undefined until it has started. */
  readonly pid: number | undefined;
  /** A call of the HTTP API below /v1/ with the root token (or `options.token`); throws VaultError on non-2xx. */
  request<T = unknown>(method: string, path: string, body?: unknown, options?: { token?: string }): Promise<T>;
  /** Mounts KV v2 at `mount` and waits until it serves requests. */
  enableKv(mount: string): Promise<void>;
  enableTotp(mount?: string): Promise<void>;
  enableAppRole(options: AppRoleOptions): Promise<{ roleId: string; secretId: string }>;
  writePolicy(name: string, hcl: string): Promise<void>;
  /** Stops the server and removes its files; safe to call twice. */
  stop(): Promise<void>;
}

export interface AuditedVault {
  readonly auditLogPath: string;
  /** Requests (not responses) in the audit log for which `predicate` holds. */
  countRequests(predicate: (entry: AuditEntry) => boolean): Promise<number>;
}

export interface PersistentVault {
  seal(): Promise<void>;
  unseal(): Promise<void>;
  /** Stops the process and starts it again on the same port and data directory, then unseals it. */
  restart(): Promise<void>;
  /** Stops the process but keeps its port and data (an outage); `start` brings it back. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data directory, and unseals it. */
  start(): Promise<void>;
}

export type StartedVault<O extends StartVaultOptions> = Vault &
  (O extends { auditLog: true } ? AuditedVault : unknown) &
  (O extends { persistent: true } ? PersistentVault : unknown);

const READY_TIMEOUT_MS = 30_000;

/** Starts a real OpenBao (or Vault) server on a free loopback port in a temporary directory. */
export async function startVault<const O extends StartVaultOptions = Record<never, never>>(
  options?: O,
): Promise<StartedVault<O>> {
  const persistent = options?.persistent === true;
  const binary = toolPath("bao");
  const dir = await mkdtemp(join(tmpdir(), "totp-vault-"));
  const auditLogPath = options?.auditLog ? join(dir, "audit.log") : undefined;
  const openBao = await isOpenBao(binary);
  // HashiCorp Vault has no audit stanza in its configuration; OpenBao 2.x refuses to enable audit devices by API.
  const auditByConfig = auditLogPath !== undefined && openBao;
  const secrets: string[] = [];
  let token = persistent ? "" : `root-${randomBytes(16).toString("hex")}`;
  if (token) secrets.push(token);
  let unsealKey = "";
  let port = 0;
  let handle: ProcessHandle | undefined;
  let stopped = false;

  const host = options?.listenAddress ?? "127.0.0.1";
  const addr = () => `http://${host}:${port}`;
  const request = <T>(method: string, path: string, body?: unknown, requestOptions?: { token?: string }) =>
    vaultRequest<T>(addr(), requestOptions?.token ?? token, method, path, body);

  // The server must not see a VAULT_TOKEN or BAO_ADDR of whoever runs the tests, nor write ~/.vault-token.
  const env: NodeJS.ProcessEnv = { HOME: dir };
  for (const key of Object.keys(process.env)) if (/^(VAULT|BAO)_/.test(key)) env[key] = undefined;

  const configText = (): string => {
    const audit = auditByConfig
      ? `audit "file" "to-file" {\n  options {\n    file_path = ${JSON.stringify(auditLogPath)}\n  }\n}\n`
      : "";
    if (!persistent) return audit;
    // OpenBao 2.x dropped the "file" storage and mlock; pebbledb is its single-node storage on disk.
    const storage = openBao ? "pebbledb" : "file";
    return `${audit}storage "${storage}" {
  path = ${JSON.stringify(join(dir, "data"))}
}
listener "tcp" {
  address = "${host}:${port}"
  tls_disable = true
}
api_addr = "http://${host}:${port}"
${openBao ? "" : "disable_mlock = true\n"}`;
  };

  const launch = async (acceptHealth: (status: number) => boolean) => {
    const configPath = join(dir, "config.hcl");
    const config = configText();
    if (config) await writeFile(configPath, config);
    const args = persistent
      ? ["server", `-config=${configPath}`]
      : [
          "server",
          "-dev",
          `-dev-root-token-id=${token}`,
          `-dev-listen-address=${host}:${port}`,
          ...(config ? [`-config=${configPath}`] : []),
        ];
    const started = runProcess(binary, args, { cwd: dir, env });
    handle = started;
    await waitForHealth(addr(), started, acceptHealth, secrets);
  };

  const waitUntilActive = () => waitForHealth(addr(), handle as ProcessHandle, (status) => status === 200, secrets);

  const unseal = async () => {
    await vaultRequest(addr(), undefined, "PUT", "sys/unseal", { key: unsealKey });
    await waitUntilActive();
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await handle?.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await withFreePorts(1, async ([free = 0]) => {
      port = free;
      // A new persistent server answers 501 (not initialized); a dev server is ready when it answers 200.
      await launch(persistent ? (status) => status === 501 : (status) => status === 200);
    });
    if (persistent) {
      const init = await vaultRequest<{ keys_base64: string[]; root_token: string }>(
        addr(),
        undefined,
        "PUT",
        "sys/init",
        {
          secret_shares: 1,
          secret_threshold: 1,
        },
      );
      unsealKey = init.keys_base64[0] ?? "";
      token = init.root_token;
      secrets.push(unsealKey, token);
      await unseal();
    }
    if (auditLogPath && !auditByConfig) {
      await request("PUT", "sys/audit/to-file", { type: "file", options: { file_path: auditLogPath } });
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const vault: Vault & AuditedVault & PersistentVault = {
    get addr() {
      return addr();
    },
    get token() {
      return token;
    },
    get pid() {
      return handle?.pid;
    },
    auditLogPath: auditLogPath ?? "",
    request,
    async enableKv(mount) {
      await request("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
      // A new KV v2 mount finishes setting itself up in the background and refuses requests until then.
      await retryUntil(() => request("GET", `${mount}/config`), `KV v2 at ${mount}/`);
    },
    async enableTotp(mount = "totp") {
      await request("POST", `sys/mounts/${mount}`, { type: "totp" });
    },
    async enableAppRole({ role, policies, tokenTtl, tokenMaxTtl, secretIdTtl, mount = "approle" }) {
      const methods = await request<{ data: Record<string, unknown> }>("GET", "sys/auth");
      if (!(`${mount}/` in methods.data)) await request("POST", `sys/auth/${mount}`, { type: "approle" });
      await request("POST", `auth/${mount}/role/${role}`, {
        token_policies: policies,
        token_ttl: tokenTtl,
        token_max_ttl: tokenMaxTtl,
        secret_id_ttl: secretIdTtl,
      });
      const roleId = await request<{ data: { role_id: string } }>("GET", `auth/${mount}/role/${role}/role-id`);
      const secretId = await request<{ data: { secret_id: string } }>("POST", `auth/${mount}/role/${role}/secret-id`);
      return { roleId: roleId.data.role_id, secretId: secretId.data.secret_id };
    },
    async writePolicy(name, hcl) {
      await request("PUT", `sys/policies/acl/${name}`, { policy: hcl });
    },
    async countRequests(predicate) {
      if (!auditLogPath) throw new Error("countRequests needs startVault({ auditLog: true })");
      const text = await readFile(auditLogPath, "utf8").catch(() => "");
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEntry)
        .filter((entry) => entry.type === "request" && predicate(entry)).length;
    },
    async seal() {
      await request("PUT", "sys/seal");
    },
    unseal,
    async restart() {
      await vault.halt();
      await vault.start();
    },
    async halt() {
      if (!persistent) throw new Error("halt needs startVault({ persistent: true }): a dev server forgets everything");
      await handle?.stop();
    },
    async start() {
      // Sealed after a restart: 503 is the answer that says the server is up again.
      await launch((status) => status === 503);
      await unseal();
    },
    stop,
  };
  return vault as StartedVault<O>;
}

const flavors = new Map<string, Promise<boolean>>();

/** `vault` may be linked as bao (setup-tools prefers what PATH has); the two differ in configuration. */
function isOpenBao(binary: string): Promise<boolean> {
  let flavor = flavors.get(binary);
  if (!flavor) {
    flavor = promisify(execFile)(binary, ["version"]).then(({ stdout }) => stdout.includes("OpenBao"));
    flavors.set(binary, flavor);
  }
  return flavor;
}

/** Waits until OpenBao's health endpoint answers a status `accept` takes. */
function waitForHealth(
  addr: string,
  handle: ProcessHandle,
  accept: (status: number) => boolean,
  secrets: readonly string[],
): Promise<void> {
  return waitUntilReady(
    handle,
    {
      what: `OpenBao at ${addr}`,
      timeoutMs: READY_TIMEOUT_MS,
      secrets,
      // The dev server prints its unseal key and root token; neither may reach a test log through the error.
      redact: (output) => output.replace(/^(Unseal Key|Root Token): .*$/gm, "$1: <redacted>"),
    },
    async () => {
      const response = await fetch(`${addr}/v1/sys/health`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      return accept(response.status) || `health answered ${response.status}`;
    },
  );
}

async function retryUntil(action: () => Promise<unknown>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await action();
      return;
    } catch (error) {
      if (Date.now() >= deadline)
        throw new Error(`${what} not ready within ${timeoutMs} ms: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
