import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigError,
  configErrorFrom,
  parseHostPort,
  presentEnv,
  secretFromEnv,
  totpClientConfig,
} from "../src/index.js";

describe("the bots' shared configuration pieces", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bot-config-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

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

  it("parses host:port, IPv6 in brackets, and refuses anything else naming the variable", () => {
    expect(parseHostPort("LISTEN", "0.0.0.0:8080")).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(parseHostPort("LISTEN", "[::1]:0")).toEqual({ host: "::1", port: 0 });
    for (const bad of ["8080", "host:", "host:70000", "a b:1"]) {
      expect(() => parseHostPort("LISTEN", bad)).toThrow(/^LISTEN: expected host:port/);
    }
  });

  it("reads totp-core's address and the three PEM files at once, naming the first missing or unreadable one", async () => {
    const pem = join(dir, "x.pem");
    await writeFile(pem, "PEM");
    const env = { TOTP_ADDR: "core:8443", TOTP_TLS_CERT: pem, TOTP_TLS_KEY: pem, TOTP_TLS_CA: pem };
    expect(totpClientConfig(env)).toEqual({ address: "core:8443", cert: "PEM", key: "PEM", ca: "PEM" });
    expect(() => totpClientConfig({ ...env, TOTP_ADDR: "" })).toThrow(/^TOTP_ADDR: required/);
    expect(() => totpClientConfig({ ...env, TOTP_ADDR: "core" })).toThrow(/^TOTP_ADDR: expected host:port/);
    expect(() => totpClientConfig({ ...env, TOTP_TLS_KEY: undefined })).toThrow(/^TOTP_TLS_KEY: required/);
    expect(() => totpClientConfig({ ...env, TOTP_TLS_CA: join(dir, "no.pem") })).toThrow(
      /^TOTP_TLS_CA: cannot read .*no\.pem \(ENOENT\)/,
    );
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
