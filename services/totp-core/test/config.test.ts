import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, forgetSecrets, loadConfig, startStep } from "../src/config.js";

const base = { TOTP_TLS_CERT: "c.pem", TOTP_TLS_KEY: "k.pem", TOTP_TLS_CA: "ca.pem", TOTP_POLICY_FILE: "p.yaml" };
const key = "ab".repeat(32);

describe("loadConfig", () => {
  it("uses the documented defaults and the file store when VAULT_ADDR is unset", () => {
    const config = loadConfig({ ...base, TOTP_FILE_KEY: key });
    expect(config.listen).toEqual({ host: "0.0.0.0", port: 8443 });
    expect(config.store).toMatchObject({ kind: "file", path: "totp-seeds.enc" });
    expect(config.store.kind === "file" && config.store.key.equals(Buffer.from(key, "hex"))).toBe(true);
    expect(config.rateLimits).toEqual({
      requestsPerMinute: 60,
      codesPerLabelPerMinute: 10,
      writesPerMinute: 20,
      deletesPerMinute: 20,
    });
    expect(config.reflection).toBe(false);
  });

  it("defaults to the Vault KV store with token auth when VAULT_ADDR and VAULT_TOKEN are set", () => {
    const config = loadConfig({ ...base, VAULT_ADDR: "http://127.0.0.1:8200", VAULT_TOKEN: "t" });
    expect(config.store).toMatchObject({
      kind: "vault-kv",
      kvMount: "secret",
      prefix: "totp",
      vault: { addr: "http://127.0.0.1:8200", auth: { method: "token", token: "t" } },
    });
  });

  it("reads secrets from *_FILE variables", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    writeFileSync(join(dir, "secret-id"), "the-secret-id\n");
    const config = loadConfig({
      ...base,
      VAULT_ADDR: "https://vault:8200",
      TOTP_STORE: "vault-totp",
      VAULT_ROLE_ID: "role",
      VAULT_SECRET_ID_FILE: join(dir, "secret-id"),
    });
    expect(config.store).toMatchObject({
      kind: "vault-totp",
      totpMount: "totp",
      vault: { auth: { method: "approle", roleId: "role", secretId: "the-secret-id", mount: "approle" } },
    });
  });

  it.each([
    [{ ...base, TOTP_TLS_CERT: undefined, TOTP_FILE_KEY: key }, /^TOTP_TLS_CERT: required/],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_LISTEN: "8443" }, /^TOTP_LISTEN: expected host:port/],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_LISTEN: "0.0.0.0:99999" }, /^TOTP_LISTEN: port must be/],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_STORE: "redis" }, /^TOTP_STORE: /],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_CACHE_TTL_MS: "60000" }, /^TOTP_CACHE_TTL_MS: at most 30000/],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_REFLECTION: "yes" }, /^TOTP_REFLECTION: /],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_RATE_CODES_PER_LABEL: "0" }, /^TOTP_RATE_CODES_PER_LABEL: /],
    [{ ...base }, /^TOTP_FILE_KEY: required/],
    [{ ...base, TOTP_FILE_KEY: "short" }, /^TOTP_FILE_KEY: expected 32 bytes/],
    [{ ...base, TOTP_STORE: "vault-kv" }, /^VAULT_ADDR: required with TOTP_STORE=vault-kv/],
    [{ ...base, VAULT_ADDR: "ftp://vault" }, /^VAULT_ADDR: /],
    [{ ...base, VAULT_ADDR: "http://v:8200", VAULT_AUTH_METHOD: "approle" }, /^VAULT_ROLE_ID: required/],
    [{ ...base, VAULT_ADDR: "http://v:8200" }, /^VAULT_K8S_ROLE: required/],
    [
      { ...base, VAULT_ADDR: "http://v:8200", VAULT_TOKEN: "a", VAULT_TOKEN_FILE: "/x" },
      /^VAULT_TOKEN and VAULT_TOKEN_FILE/,
    ],
    [
      { ...base, VAULT_ADDR: "http://v:8200", VAULT_TOKEN_FILE: "/nonexistent/t" },
      /^VAULT_TOKEN_FILE: cannot open \/nonexistent\/t \(ENOENT: no such file or directory\)$/,
    ],
    [
      { ...base, VAULT_ADDR: "http://v:8200", VAULT_TOKEN: "t", VAULT_CACERT: "/nonexistent/ca.pem" },
      /^VAULT_CACERT: cannot open \/nonexistent\/ca\.pem \(ENOENT: no such file or directory\)$/,
    ],
    [
      { ...base, VAULT_ADDR: "http://v:8200", VAULT_K8S_ROLE: "r", VAULT_K8S_JWT_FILE: "/nonexistent/token" },
      /^VAULT_K8S_JWT_FILE: cannot open \/nonexistent\/token \(ENOENT: no such file or directory\)$/,
    ],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_REDIS_URL: "http://redis:6379" }, /^TOTP_REDIS_URL: expected a redis:/],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_REDIS_URL: "redis:6379" }, /^TOTP_REDIS_URL: /],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_REDIS_URL: "redis://r:6379/x" }, /^TOTP_REDIS_URL: the path must be/],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_REDIS_PASSWORD: "p" }, /^TOTP_REDIS_PASSWORD: set TOTP_REDIS_URL too/],
    [
      { ...base, TOTP_FILE_KEY: key, TOTP_REDIS_URL: "redis://:a@r:6379", TOTP_REDIS_PASSWORD: "b" },
      /^TOTP_REDIS_PASSWORD_FILE: TOTP_REDIS_URL holds a password already/,
    ],
    [
      { ...base, TOTP_FILE_KEY: key, TOTP_REDIS_URL: "redis://r:6379", TOTP_REDIS_CA_FILE: "/x" },
      /^TOTP_REDIS_CA_FILE: only used with TLS/,
    ],
    [
      { ...base, TOTP_FILE_KEY: key, TOTP_REDIS_URL: "rediss://r:6379", TOTP_REDIS_CA_FILE: "/nonexistent/ca" },
      /^TOTP_REDIS_CA_FILE: cannot open \/nonexistent\/ca/,
    ],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_REDIS_TIMEOUT_MS: "5" }, /^TOTP_REDIS_TIMEOUT_MS: /],
    [{ ...base, TOTP_FILE_KEY: key, TOTP_CACHE_FRESHNESS_MS: "60000" }, /^TOTP_CACHE_FRESHNESS_MS: at most 30000/],
  ])("names the bad variable: %j", (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("reads Redis from a URL or a URL file, the password from a file, TLS with a CA from rediss://", () => {
    expect(loadConfig({ ...base, TOTP_FILE_KEY: key }).redis).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    writeFileSync(join(dir, "url"), "redis://redis.internal/2\n");
    writeFileSync(join(dir, "password"), "s3cret\n");
    writeFileSync(join(dir, "ca.pem"), "PEM");
    expect(
      loadConfig({
        ...base,
        TOTP_FILE_KEY: key,
        TOTP_REDIS_URL_FILE: join(dir, "url"),
        TOTP_REDIS_PASSWORD_FILE: join(dir, "password"),
      }).redis,
    ).toEqual({
      url: "redis://redis.internal/2",
      address: "redis.internal:6379",
      tls: false,
      password: "s3cret",
      caPem: undefined,
      timeoutMs: 100,
    });
    expect(
      loadConfig({
        ...base,
        TOTP_FILE_KEY: key,
        TOTP_REDIS_URL: "rediss://user:pw@redis.internal:6380",
        TOTP_REDIS_CA_FILE: join(dir, "ca.pem"),
        TOTP_REDIS_TIMEOUT_MS: "50",
      }).redis,
    ).toMatchObject({ address: "redis.internal:6380", tls: true, password: undefined, caPem: "PEM", timeoutMs: 50 });
  });

  it("never repeats a Redis URL in its error: it may hold a password", () => {
    const url = "redis://:hunter2@r:6379/notadb";
    expect(() => loadConfig({ ...base, TOTP_FILE_KEY: key, TOTP_REDIS_URL: url })).toThrow(/^TOTP_REDIS_URL/);
    try {
      loadConfig({ ...base, TOTP_FILE_KEY: key, TOTP_REDIS_URL: url });
    } catch (err) {
      expect(String(err)).not.toContain("hunter2");
    }
  });

  it("never repeats a secret value in its error", () => {
    const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
    expect(() => loadConfig({ ...base, TOTP_FILE_KEY: secret })).toThrow(/^TOTP_FILE_KEY/);
    try {
      loadConfig({ ...base, TOTP_FILE_KEY: secret });
    } catch (err) {
      expect(String(err)).not.toContain(secret);
    }
  });
});

describe("forgetSecrets", () => {
  it("removes every secret value from the environment and names those given as values", () => {
    const env: Record<string, string | undefined> = {
      VAULT_TOKEN: "t",
      VAULT_SECRET_ID_FILE: "/run/secret-id",
      TOTP_FILE_KEY: "k",
      TOTP_REDIS_URL: "redis://127.0.0.1:6379",
      TOTP_LISTEN: "127.0.0.1:8443",
    };
    expect(forgetSecrets(env)).toEqual(["VAULT_TOKEN", "TOTP_FILE_KEY"]);
    expect(env).toEqual({ VAULT_SECRET_ID_FILE: "/run/secret-id", TOTP_LISTEN: "127.0.0.1:8443" });
    expect(forgetSecrets({ TOTP_REDIS_URL: "redis://:pw@127.0.0.1:6379" })).toEqual(["TOTP_REDIS_URL"]);
  });
});

describe("startStep", () => {
  it("answers what the step answers", async () => {
    expect(await startStep("TOTP_X", "/x", () => 42)).toBe(42);
  });

  it("turns a file the system refuses into a ConfigError naming the variable, the file and the reason", async () => {
    const failure = startStep("TOTP_TLS_CERT", "/nonexistent/cert.pem", () => readFile("/nonexistent/cert.pem"));
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(
      /^TOTP_TLS_CERT: cannot open \/nonexistent\/cert\.pem \(ENOENT: no such file or directory\)$/,
    );
  });

  it("says that an address is already in use", async () => {
    const holder = createServer().listen(0, "127.0.0.1");
    await once(holder, "listening");
    const { port } = holder.address() as AddressInfo;
    const at = `127.0.0.1:${port}`;
    try {
      const failure = startStep("TOTP_METRICS_LISTEN", at, async () => {
        await once(createServer().listen(port, "127.0.0.1"), "listening");
      });
      await expect(failure).rejects.toThrow(new RegExp(`^TOTP_METRICS_LISTEN: ${at} is already in use$`));
    } finally {
      holder.close();
    }
  });

  it("keeps another failure's message, adding the value only when the message does not name it", async () => {
    const named = startStep("TOTP_TLS_KEY", "/k.pem", () => {
      throw new Error("/k.pem is not the key of /c.pem");
    });
    await expect(named).rejects.toThrow(/^TOTP_TLS_KEY: \/k\.pem is not the key of \/c\.pem$/);
    const unnamed = startStep("TOTP_TLS_CA", "/ca.pem", () => {
      throw new Error("no start line");
    });
    await expect(unnamed).rejects.toThrow(/^TOTP_TLS_CA: \/ca\.pem: no start line$/);
  });
});
