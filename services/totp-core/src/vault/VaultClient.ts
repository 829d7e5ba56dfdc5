import { readFile } from "node:fs/promises";
import { type Logger, pino } from "pino";
import { INTERNAL_MESSAGE, TotpError } from "../errors.js";
import type { HashAlgorithm } from "../seed.js";
import { storeUnavailable } from "../store/storeErrors.js";
import { VaultFailure } from "./VaultFailure.js";
import { type Reply, VaultHttp, type VaultRequest } from "./VaultHttp.js";

/** How the client gets its Vault token. */
export type VaultAuth =
  | { method: "token"; token: string }
  | { method: "approle"; roleId: string; secretId: string /** default "approle" */; mount?: string }
  | {
      method: "kubernetes";
      role: string;
      /** Read again at each login: Kubernetes rotates projected service-account tokens. */
      jwtPath?: string;
      /** default "kubernetes" */
      mount?: string;
    };

export interface VaultClientOptions {
  /** e.g. https://vault.internal:8200 */
  addr: string;
  /** The CA that signed Vault's certificate, when it is a private one. The public roots are used otherwise. */
  caCertPem?: string | undefined;
  /** Every request gives up after this long: a hung Vault must fail a call, not hang it. */
  timeoutMs: number;
  auth: VaultAuth;
}

const DEFAULT_KUBERNETES_JWT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** What the metadata of a KV v2 secret says: its latest version, whether that is deleted, its custom metadata. */
export interface KvMetadata {
  version: number;
  deleted: boolean;
  custom: Record<string, string>;
}

/** One version of a KV v2 secret. */
export interface KvVersion {
  data: Record<string, unknown>;
  version: number;
}

/** A key for the TOTP engine, with the engine's own field names. */
export interface TotpKey {
  /** The seed in base32. */
  key: string;
  algorithm: HashAlgorithm;
  digits: number;
  period: number;
  issuer: string;
  account_name: string;
}

export interface VaultClientHooks {
  log?: Logger;
}

interface Lease {
  ttlSeconds: number;
  renewable: boolean;
}

/** Renew when two thirds of the token's life have passed: room for a few retries before it expires. */
const RENEW_AT = 2 / 3;
const RENEW_RETRY_MS = 5_000;
/** setTimeout fires at once for delays over 2^31 - 1 ms; a year-long TTL must not turn into a renewal loop. */
const MAX_TIMER_MS = 24 * 3600 * 1000;

/** A request of the client's own token; #send adds the token. */
type TokenRequest = Omit<VaultRequest, "token">;

/**
 * The service's only door to Vault/OpenBao: the calls the stores need, one login and token lifecycle, and one
 * error mapping. Outages (refused, timed out, sealed, 5xx) become TotpError UNAVAILABLE; a 403 is answered by one
 * fresh login and a retry, then UNAVAILABLE with a log line naming the path (a policy problem, not the caller's);
 * "not found" and check-and-set conflicts are answers of the methods, not errors. Nothing here logs a token, a
 * request body or a response body: log lines hold method, operation and path only.
 */
export class VaultClient {
  readonly #http: VaultHttp;
  /** The token requests carry; empty until the first login. */
  #token = "";
  readonly #auth: VaultAuth;
  readonly #log: Logger;
  /** The current login, finished or under way; undefined when the next request must log in. */
  #login: Promise<void> | undefined;
  /** Counts logins started, so that requests refused with an older token do not each log in again. */
  #logins = 0;
  #expiresAtMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: VaultClientOptions, hooks: VaultClientHooks = {}) {
    this.#auth = options.auth;
    this.#log = hooks.log ?? pino({ enabled: false });
    this.#http = new VaultHttp(options);
  }

  /**
   * Seconds left before the token expires, or undefined before the first login and for a token that never
   * expires (a root token). It keeps falling while renewals fail, down to 0 once the token has expired.
   */
  tokenTtlSeconds(): number | undefined {
    if (this.#expiresAtMs === undefined) return undefined;
    return Math.max(0, Math.round((this.#expiresAtMs - Date.now()) / 1000));
  }

  /**
   * Resolves when Vault is initialized, unsealed and takes our token; throws TotpError UNAVAILABLE otherwise. The
   * token is looked up, not only held: a token revoked behind our back refuses every call, and the health probe must
   * say so (with a login method, the 403 brings one fresh login first, so a working login keeps us healthy).
   */
  async health(): Promise<void> {
    let body: { initialized?: unknown; sealed?: unknown } | undefined;
    try {
      // sys/health says what it knows in its body whatever the status (503 when sealed).
      body = (await this.#http.send({
        op: "health",
        method: "GET",
        path: "sys/health",
        query: { standbyok: "true" },
        anyStatus: true,
      })) as typeof body;
    } catch (err) {
      throw storeUnavailable(VaultFailure.from(err, "health", "sys/health"));
    }
    if (body?.initialized !== true || body.sealed !== false) {
      const state = body?.initialized !== true ? "Vault is not initialized" : "Vault is sealed";
      throw storeUnavailable(new VaultFailure("health", "sys/health", 503, undefined, [state]));
    }
    await this.#send({ op: "token lookup", method: "GET", path: "auth/token/lookup-self" });
  }

  /** The latest version of a KV v2 secret, or undefined when there is none or it is deleted. */
  async kvRead(mount: string, path: string): Promise<KvVersion | undefined> {
    const api = `${mount}/data/${path}`;
    const reply = await this.#send({ op: "kv read", method: "GET", path: api }, notFound);
    if (reply === undefined) return undefined;
    const data = reply.data?.data;
    const metadata = reply.data?.metadata as { version?: unknown } | undefined;
    if (typeof data !== "object" || data === null || typeof metadata?.version !== "number") {
      throw unexpectedReply("kv read", api);
    }
    return { data: data as Record<string, unknown>, version: metadata.version };
  }

  /**
   * Creates a KV v2 secret with check-and-set, so that of concurrent creators exactly one succeeds. A secret whose
   * latest version is deleted counts as absent. Answers the version written, undefined when the secret exists.
   */
  async kvCreate(mount: string, path: string, data: Record<string, unknown>): Promise<number | undefined> {
    const created = await this.#kvWrite(mount, path, data, 0);
    if (created !== undefined) return created;
    // cas 0 also fails when the secret had versions that were all deleted since: create on top of the latest one.
    const state = await this.#kvState(mount, path);
    if (state && !state.deleted) return undefined;
    return this.#kvWrite(mount, path, data, state?.version ?? 0);
  }

  /** Writes a new version whatever exists; answers its version number. */
  async kvReplace(mount: string, path: string, data: Record<string, unknown>): Promise<number> {
    const version = await this.#kvWrite(mount, path, data, undefined);
    if (version === undefined) throw unexpectedReply("kv write", `${mount}/data/${path}`);
    return version;
  }

  /** Writes a new version only if the latest is still `version` (check-and-set); false when another came first. */
  async kvReplaceAt(mount: string, path: string, data: Record<string, unknown>, version: number): Promise<boolean> {
    return (await this.#kvWrite(mount, path, data, version)) !== undefined;
  }

  /**
   * The metadata of a secret (no secret data crosses the wire), undefined when it never existed: what a listing
   * needs to tell a live secret from a deleted one and to describe it without reading it.
   */
  kvMetadata(mount: string, path: string): Promise<KvMetadata | undefined> {
    return this.#kvState(mount, path);
  }

  /** Replaces a secret's custom metadata; its versions and their data stay as they are. */
  async kvSetCustomMetadata(mount: string, path: string, custom: Record<string, string>): Promise<void> {
    const api = `${mount}/metadata/${path}`;
    await this.#send({ op: "kv metadata write", method: "POST", path: api, body: { custom_metadata: custom } });
  }

  /** The latest version number of a secret, deleted or not: what kvReplaceAt expects; 0 when it never existed. */
  async kvVersion(mount: string, path: string): Promise<number> {
    return (await this.#kvState(mount, path))?.version ?? 0;
  }

  /**
   * The latest version number when it is live, undefined when the secret is absent or its latest version deleted:
   * whether a version read earlier is still current, from the metadata alone (no secret data crosses the wire).
   */
  async kvLiveVersion(mount: string, path: string): Promise<number | undefined> {
    const state = await this.#kvState(mount, path);
    return state && !state.deleted ? state.version : undefined;
  }

  /** Whether a live (not deleted) version exists, without reading the secret itself. */
  async kvExists(mount: string, path: string): Promise<boolean> {
    const state = await this.#kvState(mount, path);
    return state !== undefined && !state.deleted;
  }

  /**
   * Deletes one version of a secret (soft: it stays for recovery), whatever version is latest: unlike kvDelete, it
   * cannot remove a version someone else wrote meanwhile.
   */
  async kvDeleteVersion(mount: string, path: string, version: number): Promise<void> {
    const api = `${mount}/delete/${path}`;
    await this.#send({ op: "kv delete version", method: "POST", path: api, body: { versions: [version] } });
  }

  /** Deletes the latest version; earlier versions stay for recovery, as the mount's settings keep them. */
  async kvDelete(mount: string, path: string): Promise<void> {
    const api = `${mount}/data/${path}`;
    await this.#send({ op: "kv delete", method: "DELETE", path: api });
  }

  /**
   * The secret names directly below `dir` (folders left out), including ones whose latest version is deleted; with
   * `window`, those after `window.after`, at most `window.limit` entries (OpenBao's paginated LIST; HashiCorp Vault
   * ignores both and answers every name). `complete` when no entry follows the ones answered.
   */
  async kvList(
    mount: string,
    dir: string,
    window?: { after: string; limit: number },
  ): Promise<{ names: string[]; complete: boolean }> {
    const api = `${mount}/metadata/${dir}`;
    const query: Record<string, string> = window
      ? { list: "true", after: window.after, limit: String(window.limit) }
      : { list: "true" };
    const reply = await this.#send({ op: "kv list", method: "GET", path: api, query }, notFound);
    if (reply === undefined) return { names: [], complete: true };
    const keys = reply.data?.keys;
    if (!Array.isArray(keys)) throw unexpectedReply("kv list", api);
    return {
      names: keys.filter((key): key is string => typeof key === "string" && !key.endsWith("/")),
      // Folders count towards the limit too: a short answer, not a short list of names, means the end.
      complete: window === undefined || keys.length < window.limit,
    };
  }

  /** Imports a key into the TOTP engine, replacing one of the same name. */
  async totpImport(mount: string, name: string, key: TotpKey): Promise<void> {
    const api = `${mount}/keys/${name}`;
    await this.#send({ op: "totp import", method: "POST", path: api, body: { ...key, generate: false } });
  }

  /** The engine's code for the current time step, or undefined when it has no such key. */
  async totpCode(mount: string, name: string): Promise<string | undefined> {
    const api = `${mount}/code/${name}`;
    // The engine answers 400 "unknown key" rather than 404 for a missing key.
    const unknownKey = (f: VaultFailure) => f.status === 400 && f.vaultErrors.some((e) => e.startsWith("unknown key"));
    const reply = await this.#send({ op: "totp code", method: "GET", path: api }, unknownKey);
    if (reply === undefined) return undefined;
    const code = reply.data?.code;
    if (typeof code !== "string") throw unexpectedReply("totp code", api);
    return code;
  }

  async totpDelete(mount: string, name: string): Promise<void> {
    const api = `${mount}/keys/${name}`;
    await this.#send({ op: "totp delete", method: "DELETE", path: api });
  }

  /** Stops renewing; later calls fail with UNAVAILABLE. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#http.close();
  }

  /** The version written, or undefined when check-and-set refused the write. */
  async #kvWrite(
    mount: string,
    path: string,
    data: Record<string, unknown>,
    cas: number | undefined,
  ): Promise<number | undefined> {
    const api = `${mount}/data/${path}`;
    const body = cas === undefined ? { data } : { options: { cas }, data };
    const casMismatch = (f: VaultFailure) =>
      f.status === 400 && f.vaultErrors.some((e) => e.includes("check-and-set parameter did not match"));
    const reply = await this.#send({ op: "kv write", method: "POST", path: api, body }, casMismatch);
    if (reply === undefined) return undefined;
    const version = reply.data?.version;
    if (typeof version !== "number") throw unexpectedReply("kv write", api);
    return version;
  }

  /** A secret's latest version number, whether it is deleted or destroyed, its custom metadata; undefined if none. */
  async #kvState(mount: string, path: string): Promise<KvMetadata | undefined> {
    const api = `${mount}/metadata/${path}`;
    const reply = await this.#send({ op: "kv metadata", method: "GET", path: api }, notFound);
    if (reply === undefined) return undefined;
    const version = reply.data?.current_version;
    const versions = reply.data?.versions as
      | Record<string, { deletion_time?: unknown; destroyed?: unknown }>
      | undefined;
    if (typeof version !== "number") throw unexpectedReply("kv metadata", api);
    const latest = versions?.[String(version)];
    const custom = reply.data?.custom_metadata;
    return {
      version,
      deleted: latest?.destroyed === true || (latest?.deletion_time ?? "") !== "",
      // Vault answers null for a secret that never had any.
      custom: typeof custom === "object" && custom !== null ? (custom as Record<string, string>) : {},
    };
  }

  /**
   * Sends one authenticated request. Failures that `expected` accepts answer undefined (the methods turn them into
   * "not found" or "exists"); the rest become TotpError.
   */
  async #send(request: TokenRequest, expected: (f: VaultFailure) => boolean = () => false): Promise<Reply> {
    const { op, path } = request;
    await this.#ensureLogin();
    const loginsBefore = this.#logins;
    let outcome = await this.#attempt(request);
    if (outcome instanceof VaultFailure && outcome.status === 403 && this.#auth.method !== "token") {
      // Revoked or expired behind our back (Vault restarted, an operator revoked it): log in again, once.
      this.#log.warn({ op, path }, "Vault refused the token; logging in again");
      await this.#reLogin(loginsBefore);
      outcome = await this.#attempt(request);
    }
    // A 204 has no body; callers only test that something came back.
    if (!(outcome instanceof VaultFailure)) return typeof outcome === "object" && outcome !== null ? outcome : {};
    if (expected(outcome)) return undefined;
    if (outcome.status === 403) {
      this.#log.error(
        { op, path, auth: this.#auth.method },
        "Vault denies this request to our token: check the token's policies (or whether it was revoked)",
      );
      throw storeUnavailable(outcome);
    }
    if (outcome.unavailable) throw storeUnavailable(outcome);
    // Any other 4xx means we sent something Vault does not take: a bug or a mount set up differently.
    throw new TotpError("INTERNAL", INTERNAL_MESSAGE, { cause: outcome });
  }

  #ensureLogin(): Promise<void> {
    if (this.#closed) return Promise.reject(storeUnavailable(new Error("the Vault client is closed")));
    if (!this.#login) {
      const login: Promise<void> = this.#authenticate().catch((err: unknown) => {
        if (this.#login === login) this.#login = undefined;
        const failure = err instanceof VaultFailure ? err : undefined;
        // Unreachable is an outage; a refusal is a configuration problem someone must fix.
        const level = failure?.unavailable ? "warn" : "error";
        this.#log[level]({ err, auth: this.#auth.method }, "Vault login failed");
        throw storeUnavailable(err);
      });
      this.#login = login;
    }
    return this.#login;
  }

  /** Logs in again unless a login newer than the one a refused request used is done or under way. */
  async #reLogin(loginsSeen: number): Promise<void> {
    if (this.#logins === loginsSeen) this.#login = undefined;
    await this.#ensureLogin();
  }

  async #authenticate(): Promise<void> {
    this.#logins += 1;
    clearTimeout(this.#timer);
    const auth = this.#auth;
    let lease: Lease;
    if (auth.method === "token") {
      this.#token = auth.token;
      const reply = await this.#http.send({
        op: "token lookup",
        method: "GET",
        path: "auth/token/lookup-self",
        token: this.#token,
      });
      lease = { ttlSeconds: Number(reply?.data?.ttl ?? 0), renewable: reply?.data?.renewable === true };
    } else {
      let reply: Reply;
      if (auth.method === "approle") {
        const mount = auth.mount ?? "approle";
        reply = await this.#http.send({
          op: "approle login",
          method: "POST",
          path: `auth/${mount}/login`,
          body: { role_id: auth.roleId, secret_id: auth.secretId },
        });
      } else {
        const mount = auth.mount ?? "kubernetes";
        const jwt = (await readFile(auth.jwtPath ?? DEFAULT_KUBERNETES_JWT_PATH, "utf8")).trim();
        reply = await this.#http.send({
          op: "kubernetes login",
          method: "POST",
          path: `auth/${mount}/login`,
          body: { role: auth.role, jwt },
        });
      }
      const token = reply?.auth?.client_token;
      if (typeof token !== "string" || token === "") throw unexpectedReply("login", `auth/${auth.method}/login`);
      this.#token = token;
      lease = { ttlSeconds: Number(reply?.auth?.lease_duration ?? 0), renewable: reply?.auth?.renewable === true };
    }
    this.#log.info({ auth: auth.method, ttlSeconds: lease.ttlSeconds }, "logged in to Vault");
    this.#keep(lease);
  }

  /**
   * Plans the token's next renewal from its lease. `grantedBefore` is the TTL the previous renewal gave: a shorter
   * one now means the token reaches its max TTL, where renewing cannot help but a fresh login can.
   */
  #keep(lease: Lease, grantedBefore?: number): void {
    this.#expiresAtMs = lease.ttlSeconds > 0 ? Date.now() + lease.ttlSeconds * 1000 : undefined;
    if (lease.ttlSeconds <= 0 || this.#closed) return;
    const delayMs = lease.ttlSeconds * 1000 * RENEW_AT;
    const capped = grantedBefore !== undefined && lease.ttlSeconds < grantedBefore;
    if (lease.renewable && !capped) {
      this.#schedule(delayMs, () => this.#renew(lease.ttlSeconds));
    } else if (this.#auth.method !== "token") {
      this.#schedule(delayMs, () => this.#loginInBackground("the token cannot be renewed further"));
    } else {
      this.#log.warn(
        { ttlSeconds: lease.ttlSeconds },
        "the configured Vault token cannot be renewed further; calls will fail once it expires",
      );
    }
  }

  async #renew(grantedBefore: number): Promise<void> {
    const logins = this.#logins;
    const outcome = await this.#attempt({ op: "token renew", method: "POST", path: "auth/token/renew-self", body: {} });
    // A login meanwhile (after a 403) planned its own renewal.
    if (logins !== this.#logins || this.#closed) return;
    if (!(outcome instanceof VaultFailure)) {
      const ttlSeconds = Number(outcome?.auth?.lease_duration ?? 0);
      this.#keep({ ttlSeconds, renewable: outcome?.auth?.renewable === true }, grantedBefore);
      return;
    }
    if (outcome.unavailable) {
      this.#log.warn({ err: outcome }, "Vault token renewal failed; retrying");
      this.#schedule(RENEW_RETRY_MS, () => this.#renew(grantedBefore));
    } else if (this.#auth.method === "token") {
      // Nothing to log in with: keep the token, and say so loudly.
      this.#log.error({ err: outcome }, "Vault refused to renew the configured token; calls will fail once it expires");
    } else {
      this.#loginInBackground("Vault refused to renew the token");
    }
  }

  #loginInBackground(reason: string): void {
    this.#log.info({ reason }, "logging in to Vault again");
    this.#login = undefined;
    // A failure is logged by #ensureLogin, and the next request tries again.
    this.#ensureLogin().catch(() => {});
  }

  /** One request with our token; whatever it throws comes back as a VaultFailure (never a raw error). */
  async #attempt(request: TokenRequest): Promise<Reply | VaultFailure> {
    try {
      return await this.#http.send({ ...request, token: this.#token });
    } catch (err) {
      return VaultFailure.from(err, request.op, request.path);
    }
  }

  #schedule(delayMs: number, run: () => Promise<void> | void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(run, Math.min(delayMs, MAX_TIMER_MS));
    // Token upkeep must not keep the process alive.
    this.#timer.unref();
  }
}

const notFound = (f: VaultFailure) => f.status === 404;

function unexpectedReply(op: string, path: string): TotpError {
  return new TotpError("INTERNAL", INTERNAL_MESSAGE, {
    cause: new VaultFailure(op, path, 200, undefined, ["answer without the expected fields"]),
  });
}
