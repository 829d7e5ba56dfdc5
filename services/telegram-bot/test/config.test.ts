import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type TestPki } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_API_ROOT, loadConfig } from "../src/config.js";

const TOKEN = "123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOpp_-";

describe("loadConfig", () => {
  let dir: string;
  let pki: TestPki;
  let base: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tgbot-config-"));
    pki = await makeTestPki(["bot"]);
    await writeFile(join(dir, "token"), `${TOKEN}\n`);
    base = {
      TELEGRAM_BOT_TOKEN: TOKEN,
      TOTP_ADDR: "totp-core:8443",
      TOTP_TLS_CA: pki.caPath,
      TOTP_TLS_CERT: pki.clients.bot?.certPath ?? "",
      TOTP_TLS_KEY: pki.clients.bot?.keyPath ?? "",
    };
  });
  afterAll(async () => {
    await pki?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  /** The message of the ConfigError that `env` gives; fails the test when it loads. */
  function refusal(env: Record<string, string | undefined>): string {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error("the configuration was accepted");
  }

  it("takes the least configuration: long polling on the public Bot API, no allowlist, no probe port", () => {
    const config = loadConfig(base);
    expect(config.token).toBe(TOKEN);
    expect(config.apiRoot).toBe(DEFAULT_API_ROOT);
    expect(config.totp).toEqual({
      address: "totp-core:8443",
      caFile: base.TOTP_TLS_CA,
      certFile: base.TOTP_TLS_CERT,
      keyFile: base.TOTP_TLS_KEY,
    });
    expect(config.webhook).toBeUndefined();
    expect(config.allowedUsers).toBeUndefined();
    expect(config.healthListen).toBeUndefined();
    expect(config.expiredCodes).toBe("delete");
  });

  it("reads the token and the webhook secret from files, and refuses both forms at once", () => {
    const fromFile = { ...base, TELEGRAM_BOT_TOKEN: undefined, TELEGRAM_BOT_TOKEN_FILE: join(dir, "token") };
    expect(loadConfig(fromFile).token).toBe(TOKEN);
    expect(refusal({ ...base, TELEGRAM_BOT_TOKEN_FILE: join(dir, "token") })).toBe(
      "TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_TOKEN_FILE are both set: keep one",
    );
    expect(refusal({ ...fromFile, TELEGRAM_BOT_TOKEN_FILE: join(dir, "missing") })).toMatch(
      /^TELEGRAM_BOT_TOKEN_FILE: cannot read .*missing \(ENOENT\)$/,
    );
    const secretFile = join(dir, "secret");
    return writeFile(secretFile, "s3cret_-value\n").then(() => {
      const config = loadConfig({
        ...base,
        TELEGRAM_API_ROOT: "http://127.0.0.1:8081",
        TELEGRAM_WEBHOOK_URL: "http://127.0.0.1:8080/hook",
        TELEGRAM_WEBHOOK_SECRET_FILE: secretFile,
      });
      expect(config.webhook?.secret).toBe("s3cret_-value");
    });
  });

  it("names the variable of each bad value, and never quotes the token", () => {
    expect(refusal({ ...base, TELEGRAM_BOT_TOKEN: undefined })).toMatch(/^TELEGRAM_BOT_TOKEN: required/);
    expect(refusal({ ...base, TELEGRAM_BOT_TOKEN: "" })).toMatch(/^TELEGRAM_BOT_TOKEN: required/);
    const wrongToken = refusal({ ...base, TELEGRAM_BOT_TOKEN: "not-a-token-but-secret-text" });
    expect(wrongToken).toMatch(/^TELEGRAM_BOT_TOKEN: expected <bot id>:<secret>/);
    expect(wrongToken).not.toContain("secret-text");
    expect(refusal({ ...base, TOTP_ADDR: undefined })).toMatch(/^TOTP_ADDR: required/);
    expect(refusal({ ...base, TOTP_TLS_KEY: join(dir, "nope.key") })).toMatch(/^TOTP_TLS_KEY: cannot read/);
    expect(refusal({ ...base, TELEGRAM_API_ROOT: "ftp://example.org/" })).toMatch(/^TELEGRAM_API_ROOT: expected/);
    expect(refusal({ ...base, TELEGRAM_ALLOWED_USERS: "12, alice" })).toMatch(/^TELEGRAM_ALLOWED_USERS: expected/);
    expect(refusal({ ...base, BOT_HEALTH_LISTEN: "8080" })).toMatch(/^BOT_HEALTH_LISTEN: expected host:port/);
    expect(refusal({ ...base, TELEGRAM_EXPIRED_CODES: "keep" })).toMatch(/^TELEGRAM_EXPIRED_CODES: /);
  });

  it("keeps the API root's path prefix, adding the trailing / telegraf needs to keep it", () => {
    expect(loadConfig({ ...base, TELEGRAM_API_ROOT: "http://127.0.0.1:8081/" }).apiRoot).toBe("http://127.0.0.1:8081/");
    expect(loadConfig({ ...base, TELEGRAM_API_ROOT: "https://proxy.example/tg/" }).apiRoot).toBe(
      "https://proxy.example/tg/",
    );
    expect(loadConfig({ ...base, TELEGRAM_API_ROOT: "https://proxy.example/tg" }).apiRoot).toBe(
      "https://proxy.example/tg/",
    );
  });

  it("takes webhook mode with its URL's path, a listen address and a secret of Telegram's alphabet", () => {
    const webhook = {
      ...base,
      TELEGRAM_WEBHOOK_URL: "https://bot.example.org/telegram/updates",
      TELEGRAM_WEBHOOK_SECRET: "abc_DEF-123",
    };
    expect(loadConfig(webhook).webhook).toEqual({
      url: "https://bot.example.org/telegram/updates",
      path: "/telegram/updates",
      listen: { host: "0.0.0.0", port: 8080 },
      secret: "abc_DEF-123",
    });
    expect(loadConfig({ ...webhook, TELEGRAM_WEBHOOK_LISTEN: "127.0.0.1:9000" }).webhook?.listen).toEqual({
      host: "127.0.0.1",
      port: 9000,
    });
    expect(refusal({ ...webhook, TELEGRAM_WEBHOOK_SECRET: undefined })).toMatch(
      /^TELEGRAM_WEBHOOK_SECRET: required in webhook mode/,
    );
    const badSecret = refusal({ ...webhook, TELEGRAM_WEBHOOK_SECRET: "has spaces and $" });
    expect(badSecret).toMatch(/^TELEGRAM_WEBHOOK_SECRET: expected 1 to 256 characters/);
    expect(badSecret).not.toContain("spaces");
    expect(refusal({ ...webhook, TELEGRAM_WEBHOOK_SECRET: "a".repeat(257) })).toMatch(/^TELEGRAM_WEBHOOK_SECRET:/);
    expect(refusal({ ...webhook, TELEGRAM_WEBHOOK_URL: "http://bot.example.org/hook" })).toMatch(
      /^TELEGRAM_WEBHOOK_URL: expected https:\/\//,
    );
    expect(refusal({ ...webhook, TELEGRAM_WEBHOOK_LISTEN: "nowhere" })).toMatch(/^TELEGRAM_WEBHOOK_LISTEN: expected/);
    expect(refusal({ ...base, TELEGRAM_WEBHOOK_LISTEN: "0.0.0.0:8080" })).toMatch(
      /^TELEGRAM_WEBHOOK_LISTEN: only used in webhook mode/,
    );
    expect(refusal({ ...base, TELEGRAM_WEBHOOK_SECRET: "abc" })).toMatch(/^TELEGRAM_WEBHOOK_SECRET: only used/);
  });

  it("reads the allowlist as user ids, spaces and a trailing comma tolerated", () => {
    const config = loadConfig({ ...base, TELEGRAM_ALLOWED_USERS: " 100001, 0200002 ,300003," });
    expect([...(config.allowedUsers ?? [])]).toEqual(["100001", "200002", "300003"]);
  });
});
