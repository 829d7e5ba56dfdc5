import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type TestPki } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

describe("the Zulip bot's configuration", () => {
  let dir: string;
  let pki: TestPki;
  let base: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "zulip-config-"));
    pki = await makeTestPki(["bot"]);
    base = {
      ZULIP_REALM: "https://chat.example.com/",
      ZULIP_EMAIL: "otp-bot@chat.example.com",
      ZULIP_API_KEY: "k3y",
      TOTP_ADDR: "totp-core:8443",
      TOTP_TLS_CERT: pki.clients.bot?.certPath ?? "",
      TOTP_TLS_KEY: pki.clients.bot?.keyPath ?? "",
      TOTP_TLS_CA: pki.caPath,
    };
  });
  afterAll(async () => {
    await pki?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const problem = (env: Record<string, string | undefined>) => {
    try {
      loadConfig(env);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };

  it("takes the credentials and totp-core's mTLS files; event-queue mode, everyone, any stream, no probes", () => {
    const config = loadConfig(base);
    expect(config.zulip).toEqual({ realm: "https://chat.example.com", email: base.ZULIP_EMAIL, apiKey: "k3y" });
    expect(config.totp).toMatchObject({ address: "totp-core:8443", certFile: base.TOTP_TLS_CERT });
    expect(config.webhook).toBeUndefined();
    expect(config.allowedSenders).toBeUndefined();
    expect(config.streams).toBeUndefined();
    expect(config.healthListen).toBeUndefined();
  });

  it("names each missing or bad variable", () => {
    expect(problem({ ...base, ZULIP_REALM: undefined })).toBe("ZULIP_REALM: required (or set ZULIP_RC)");
    expect(problem({ ...base, ZULIP_REALM: "chat.example.com" })).toMatch(/^ZULIP_REALM: expected the organisation/);
    expect(problem({ ...base, ZULIP_EMAIL: "" })).toBe("ZULIP_EMAIL: required (or set ZULIP_RC)");
    expect(problem({ ...base, ZULIP_EMAIL: "bot" })).toMatch(/^ZULIP_EMAIL: expected the bot's email/);
    expect(problem({ ...base, ZULIP_API_KEY: undefined })).toMatch(/^ZULIP_API_KEY: required/);
    expect(problem({ ...base, TOTP_ADDR: undefined })).toMatch(/^TOTP_ADDR: required/);
    expect(problem({ ...base, TOTP_TLS_CA: join(dir, "none.pem") })).toMatch(/^TOTP_TLS_CA: cannot read/);
    expect(problem({ ...base, BOT_HEALTH_LISTEN: "8080" })).toMatch(/^BOT_HEALTH_LISTEN: expected host:port/);
    expect(problem({ ...base, ZULIP_ALLOWED_SENDERS: "42, bob" })).toMatch(/^ZULIP_ALLOWED_SENDERS: expected user ids/);
    expect(problem({ ...base, ZULIP_STREAMS: " , " })).toMatch(/^ZULIP_STREAMS: expected stream names/);
  });

  it("reads the API key and the webhook token from files, and wants both webhook variables or neither", async () => {
    const keyFile = join(dir, "key");
    await writeFile(keyFile, "from-file\n");
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, "hook-token\n");
    const fromFiles = loadConfig({
      ...base,
      ZULIP_API_KEY: undefined,
      ZULIP_API_KEY_FILE: keyFile,
      ZULIP_WEBHOOK_LISTEN: "0.0.0.0:8080",
      ZULIP_WEBHOOK_TOKEN_FILE: tokenFile,
    });
    expect(fromFiles.zulip.apiKey).toBe("from-file");
    expect(fromFiles.webhook).toEqual({ listen: { host: "0.0.0.0", port: 8080 }, token: "hook-token" });
    expect(problem({ ...base, ZULIP_API_KEY_FILE: keyFile })).toMatch(/^ZULIP_API_KEY and ZULIP_API_KEY_FILE are both/);
    expect(problem({ ...base, ZULIP_WEBHOOK_LISTEN: "0.0.0.0:8080" })).toMatch(/^ZULIP_WEBHOOK_TOKEN: required/);
    expect(problem({ ...base, ZULIP_WEBHOOK_TOKEN: "t" })).toMatch(/^ZULIP_WEBHOOK_TOKEN: set ZULIP_WEBHOOK_LISTEN/);
    expect(problem({ ...base, ZULIP_WEBHOOK_LISTEN: "x", ZULIP_WEBHOOK_TOKEN: "t" })).toMatch(
      /^ZULIP_WEBHOOK_LISTEN: expected host:port/,
    );
  });

  it("takes the credentials from a zuliprc instead, and refuses both at once", async () => {
    const rc = join(dir, "zuliprc");
    await writeFile(rc, "[api]\nemail=rc-bot@chat.example.com\nkey=rc-key\nsite=https://rc.example.com\n");
    const withRc = { ...base, ZULIP_REALM: undefined, ZULIP_EMAIL: undefined, ZULIP_API_KEY: undefined, ZULIP_RC: rc };
    expect(loadConfig(withRc).zulip).toEqual({
      realm: "https://rc.example.com",
      email: "rc-bot@chat.example.com",
      apiKey: "rc-key",
    });
    expect(problem({ ...withRc, ZULIP_API_KEY: "k" })).toMatch(/^ZULIP_API_KEY: ZULIP_RC gives the credentials/);
    const noKey = join(dir, "zuliprc-nokey");
    await writeFile(noKey, "[api]\nemail=a@b.c\nsite=https://x.example\n");
    expect(problem({ ...withRc, ZULIP_RC: noKey })).toMatch(/^ZULIP_RC: .* has no key in its \[api\] section/);
    expect(problem({ ...withRc, ZULIP_RC: join(dir, "missing") })).toMatch(/^ZULIP_RC: cannot read .*ENOENT/);
  });

  it("reads the allowlist as ids and emails, and streams as names ignoring case", () => {
    const config = loadConfig({
      ...base,
      ZULIP_ALLOWED_SENDERS: "42, Alice@Example.com 7",
      ZULIP_STREAMS: "Ops, #team infra ,",
      BOT_HEALTH_LISTEN: "127.0.0.1:9090",
    });
    expect([...(config.allowedSenders?.ids ?? [])]).toEqual([42, 7]);
    expect([...(config.allowedSenders?.emails ?? [])]).toEqual(["alice@example.com"]);
    expect([...(config.streams ?? [])]).toEqual(["ops", "team infra"]);
    expect(config.healthListen).toEqual({ host: "127.0.0.1", port: 9090 });
  });
});
