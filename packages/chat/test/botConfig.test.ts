import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type TestPki } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigError,
  configErrorFrom,
  forgetBotSecrets,
  parseHostPort,
  presentEnv,
  secretFromEnv,
  totpClientConfig,
} from "../src/index.js";

describe("the bots' shared configuration pieces", () => {
  let dir: string;
  let pki: TestPki;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bot-config-"));
    pki = await makeTestPki(["bot", "other"]);
  });
  afterAll(async () => {
    await pki?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a secret from the variable or from its _FILE, never both, and names the variable", async () => {
    const file = join(dir, "token");
    await writeFile(file, "from-file\n");
    expect(secretFromEnv({ TOKEN: "direct" }, "TOKEN")).toBe("direct");
    expect(secretFromEnv({ TOKEN_FILE: file }, "TOKEN")).toBe("from-file");
    expect(secretFromEnv({}, "TOKEN")).toBeUndefined();
    expect(() => secretFromEnv({ TOKEN: "a", TOKEN_FILE: file }, "TOKEN")).toThrow(
      /^TOKEN and TOKEN_FILE are both set/,
    );
    expect(() => secretFromEnv({ TOKEN_FILE: join(dir, "missing") }, "TOKEN")).toThrow(
      /^TOKEN_FILE: cannot read .*ENOENT/,
    );
    const empty = join(dir, "empty");
    await writeFile(empty, "\n");
    expect(() => secretFromEnv({ TOKEN_FILE: empty }, "TOKEN")).toThrow(/^TOKEN_FILE: .* is empty/);
  });

  it("removes the bots' secret values from the environment once read, naming those given as values", () => {
    const env: Record<string, string | undefined> = {
      TELEGRAM_BOT_TOKEN: "123:abc",
      TELEGRAM_WEBHOOK_SECRET_FILE: "/run/secrets/hook",
      ZULIP_API_KEY: "k3y",
      ZULIP_WEBHOOK_TOKEN: "",
      TOTP_ADDR: "core:8443",
    };
    expect(forgetBotSecrets(env)).toEqual(["TELEGRAM_BOT_TOKEN", "ZULIP_API_KEY"]);
    // The names of files stay: they are no secret.
    expect(env).toEqual({ TELEGRAM_WEBHOOK_SECRET_FILE: "/run/secrets/hook", TOTP_ADDR: "core:8443" });
    expect(forgetBotSecrets(env)).toEqual([]);
  });

  it("parses host:port, IPv6 in brackets, and refuses anything else naming the variable", () => {
    expect(parseHostPort("LISTEN", "0.0.0.0:8080")).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(parseHostPort("LISTEN", "[::1]:0")).toEqual({ host: "::1", port: 0 });
    for (const bad of ["8080", "host:", "host:70000", "a b:1"]) {
      expect(() => parseHostPort("LISTEN", bad)).toThrow(/^LISTEN: expected host:port/);
    }
  });

  it("checks totp-core's address and the three PEM files at once, naming the first missing, unreadable or wrong one", async () => {
    const bot = pki.clients.bot;
    const other = pki.clients.other;
    if (!bot || !other) throw new Error("no bot certificate");
    const notPem = join(dir, "x.pem");
    await writeFile(notPem, "PEM");
    const env = {
      TOTP_ADDR: "core:8443",
      TOTP_TLS_CERT: bot.certPath,
      TOTP_TLS_KEY: bot.keyPath,
      TOTP_TLS_CA: pki.caPath,
    };
    // The paths, not the bytes: the client reads the files again while the bot runs.
    expect(totpClientConfig(env)).toEqual({
      address: "core:8443",
      certFile: bot.certPath,
      keyFile: bot.keyPath,
      caFile: pki.caPath,
    });
    const refusal = (changes: Record<string, string | undefined>) => {
      try {
        totpClientConfig({ ...env, ...changes });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error("the configuration was accepted");
    };
    expect(refusal({ TOTP_ADDR: "" })).toMatch(/^TOTP_ADDR: required/);
    expect(refusal({ TOTP_ADDR: "core" })).toMatch(/^TOTP_ADDR: expected host:port/);
    expect(refusal({ TOTP_TLS_KEY: undefined })).toMatch(/^TOTP_TLS_KEY: required/);
    expect(refusal({ TOTP_TLS_CA: join(dir, "no.pem") })).toMatch(/^TOTP_TLS_CA: cannot read .*no\.pem \(ENOENT\)/);
    expect(refusal({ TOTP_TLS_CERT: notPem })).toMatch(/^TOTP_TLS_CERT: .*x\.pem is not PEM/);
    expect(refusal({ TOTP_TLS_CA: bot.keyPath })).toMatch(/^TOTP_TLS_CA: .* holds no valid certificate/);
    expect(refusal({ TOTP_TLS_KEY: bot.certPath })).toMatch(/^TOTP_TLS_KEY: .* holds no valid private key/);
    const wrongKey = refusal({ TOTP_TLS_KEY: other.keyPath });
    expect(wrongKey).toMatch(/^TOTP_TLS_KEY: .* is not the key of the certificate in TOTP_TLS_CERT/);
    expect(wrongKey).not.toContain("PRIVATE KEY");
  });

  it("turns a schema's first issue into a ConfigError naming the variable, 'required' when it is missing", () => {
    const schema = z.object({ A: z.string(), B: z.enum(["x", "y"]) });
    const check = (env: Record<string, string | undefined>) => {
      const present = presentEnv(env);
      const parsed = schema.safeParse(present);
      if (parsed.success) return undefined;
      return configErrorFrom(parsed.error, present);
    };
    expect(check({ A: "", B: "x" })).toEqual(new ConfigError("A: required"));
    expect(check({ A: "a", B: "z" })?.message).toMatch(/^B: /);
    expect(check({ A: "a", B: "y" })).toBeUndefined();
  });
});
