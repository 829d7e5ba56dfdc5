import { X509Certificate } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { startVault } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { announcedPorts, appRoleLogin, type CoreFixture, failure, startCoreFixture } from "./grpcHarness.js";

const TOKEN_TTL_S = 3600;

/** The value of one sample of a Prometheus text exposition; undefined when no line matches. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? "").split(",");
    if (wanted.every((pair) => present.includes(pair))) return Number(match[3]);
  }
  return undefined;
}

describe("metrics scraped from a running totp-core on Vault", () => {
  let fx: CoreFixture;
  let text: string;
  /** When the scrape in `text` was asked for. */
  let scrapedAt: number;

  async function scrape(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${announcedPorts(fx.core).metrics}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  }

  beforeAll(async () => {
    const vault = await startVault();
    fx = await startCoreFixture(
      "vault-kv",
      { TOTP_METRICS_LISTEN: "127.0.0.1:0", TOTP_RATE_CODES_PER_LABEL: "3" },
      // AppRole rather than the root token: a root token never expires, so its TTL would say nothing.
      { vault, vaultAuth: await appRoleLogin(vault, "metrics", { tokenTtl: TOKEN_TTL_S }) },
    );
    const admin = fx.client("admin");
    await admin.registerSeed({
      label: "metered",
      otpauthUri: `otpauth://totp/x?secret=${new OTPAuth.Secret({ size: 20 }).base32}`,
    });
    for (let i = 0; i < 3; i++) await admin.generateCode({ label: "metered" });
    await failure(admin.generateCode({ label: "metered" }));
    await failure(admin.generateCode({ label: "unknown" }));
    await failure(fx.client("stranger").listLabels({}));

    scrapedAt = Date.now();
    text = await scrape();
  });
  afterAll(() => fx.close());

  it("counts RPCs by method and status code", () => {
    const count = (method: string, code: string) => sample(text, "totp_rpc_requests_total", { method, code });
    expect(count("RegisterSeed", "OK")).toBe(1);
    expect(count("GenerateCode", "OK")).toBe(3);
    expect(count("GenerateCode", "RESOURCE_EXHAUSTED")).toBe(1);
    expect(count("GenerateCode", "NOT_FOUND")).toBe(1);
    expect(count("ListLabels", "PERMISSION_DENIED")).toBe(1);
  });

  it("has a latency histogram per method", () => {
    const labels = { method: "GenerateCode" };
    expect(sample(text, "totp_rpc_duration_seconds_count", labels)).toBe(5);
    expect(sample(text, "totp_rpc_duration_seconds_bucket", { ...labels, le: "+Inf" })).toBe(5);
    expect(sample(text, "totp_rpc_duration_seconds_bucket", { ...labels, le: "0.001" })).toBeGreaterThanOrEqual(0);
    expect(sample(text, "totp_rpc_duration_seconds_sum", labels)).toBeGreaterThan(0);
  });

  it("times the store's Vault round trips, by operation", () => {
    const store = { store: "vault-kv" };
    expect(sample(text, "totp_store_duration_seconds_count", { ...store, op: "kvCreate" })).toBe(1);
    // Only cache misses reach Vault: the three codes of "metered" share one read, "unknown" makes one, and the call
    // refused by the rate limit none.
    expect(sample(text, "totp_store_duration_seconds_count", { ...store, op: "kvRead" })).toBe(2);
    // The health probe asks Vault too.
    expect(sample(text, "totp_store_duration_seconds_count", { ...store, op: "health" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "totp_store_duration_seconds_sum", { ...store, op: "kvRead" })).toBeGreaterThan(0);
  });

  it("counts seed cache hits and misses", () => {
    // Three codes of "metered" within the cache TTL read Vault at most once; "unknown" was a miss.
    expect(sample(text, "totp_seed_cache_total", { result: "hit" })).toBeGreaterThanOrEqual(2);
    expect(sample(text, "totp_seed_cache_total", { result: "miss" })).toBeGreaterThanOrEqual(1);
  });

  it("counts rate-limit refusals by the limit that refused", () => {
    expect(sample(text, "totp_rate_limited_total", { kind: "label" })).toBe(1);
  });

  it("shows the serving certificate's expiry", () => {
    const notAfter = Date.parse(new X509Certificate(fx.pki.server.certPem).validTo) / 1000;
    expect(sample(text, "totp_tls_certificate_expiry_timestamp_seconds")).toBe(notAfter);
  });

  it("shows the Vault token's time to live", () => {
    const ttl = sample(text, "totp_vault_token_ttl_seconds");
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(TOKEN_TTL_S);
  });

  it("computes the token's time to live at each scrape, so it falls between renewals", async () => {
    const first = sample(text, "totp_vault_token_ttl_seconds") ?? Number.NaN;
    // The token is renewed at 2/3 of its hour: none happens in between, so only the clock moves the value.
    await sleep(Math.max(0, scrapedAt + 2500 - Date.now()));
    const later = sample(await scrape(), "totp_vault_token_ttl_seconds") ?? Number.NaN;
    const elapsedS = (Date.now() - scrapedAt) / 1000;
    expect(later).toBeGreaterThan(0);
    expect(later).toBeLessThanOrEqual(TOKEN_TTL_S);
    // Whole seconds, rounded at each scrape: the fall matches the time between the scrapes to within one second.
    expect(first - later).toBeGreaterThanOrEqual(1);
    expect(first - later).toBeLessThanOrEqual(elapsedS + 1);
  });
});
