import { once } from "node:events";
import { readFileSync } from "node:fs";
import { type ClientHttp2Session, connect, type Settings } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { type CoreFixture, startCoreFixture } from "./grpcHarness.js";

const README = new URL("../README.md", import.meta.url);

/** Each `VARIABLE` of the README's configuration table with its documented default. */
function documentedDefaults(): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const row of readFileSync(README, "utf8").split("\n")) {
    const [, names = "", values = ""] = row.split("|");
    const vars = [...names.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string);
    const given = [...values.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
    // A row may document several variables, with one default each in the same order, or one shared default.
    vars.forEach((name, i) => {
      const value = given.length === vars.length ? given[i] : given[0];
      if (value !== undefined) defaults.set(name, value);
    });
  }
  return defaults;
}

describe("keepalive and connection limits", () => {
  it("documents each option in the README with the default the service applies", () => {
    const { keepalive } = loadConfig({
      TOTP_TLS_CERT: "c.pem",
      TOTP_TLS_KEY: "k.pem",
      TOTP_TLS_CA: "ca.pem",
      TOTP_POLICY_FILE: "p.yaml",
      TOTP_FILE_KEY: "ab".repeat(32),
    });
    const documented = documentedDefaults();
    expect(documented.get("TOTP_KEEPALIVE_TIME_MS")).toBe(String(keepalive.timeMs));
    expect(documented.get("TOTP_KEEPALIVE_TIMEOUT_MS")).toBe(String(keepalive.timeoutMs));
    expect(documented.get("TOTP_MAX_CONNECTION_AGE_MS")).toBe(String(keepalive.maxConnectionAgeMs));
    expect(documented.get("TOTP_MAX_CONCURRENT_STREAMS")).toBe(String(keepalive.maxConcurrentStreams));
  });

  describe("on the wire", () => {
    let fx: CoreFixture;
    let session: ClientHttp2Session;
    let settings: Settings;
    /** Registered before the connection opens, so that nothing the server sends early is missed. */
    let pinged: Promise<unknown>;
    let goaway: Promise<unknown>;

    beforeAll(async () => {
      fx = await startCoreFixture("file", {
        TOTP_MAX_CONCURRENT_STREAMS: "7",
        TOTP_KEEPALIVE_TIME_MS: "1000",
        TOTP_MAX_CONNECTION_AGE_MS: "2000",
      });
      const admin = fx.pki.clients.admin;
      if (!admin) throw new Error("the test PKI has no admin certificate");
      // A bare HTTP/2 client over mTLS, to see the server's SETTINGS, PING and GOAWAY frames themselves.
      session = connect(`https://127.0.0.1:${fx.core.port}`, {
        ca: fx.pki.ca.certPem,
        cert: admin.certPem,
        key: admin.keyPem,
        servername: "localhost",
      });
      // Bounded, so a server that never sends them fails the test instead of hanging it.
      pinged = once(session, "ping", { signal: AbortSignal.timeout(20_000) });
      goaway = once(session, "goaway", { signal: AbortSignal.timeout(20_000) });
      [settings] = (await once(session, "remoteSettings")) as [Settings];
    });
    afterAll(async () => {
      session?.destroy();
      await fx?.close();
    });

    it("bounds the concurrent streams of a connection by TOTP_MAX_CONCURRENT_STREAMS", () => {
      expect(settings.maxConcurrentStreams).toBe(7);
    });

    it("pings an idle connection every TOTP_KEEPALIVE_TIME_MS", async () => {
      await pinged;
    });

    it("ends a connection older than TOTP_MAX_CONNECTION_AGE_MS with GOAWAY", async () => {
      await goaway;
    });
  });
});
