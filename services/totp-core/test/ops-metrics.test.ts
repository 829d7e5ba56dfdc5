import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { Metrics } from "../src/ops/Metrics.js";
import { type MetricsServer, startMetricsServer } from "../src/ops/startMetricsServer.js";

function get(port: number, path: string, method = "GET"): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("Metrics over HTTP", () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("serves what was observed in Prometheus text format", async () => {
    const metrics = new Metrics();
    metrics.rpcRequests.inc({ method: "GenerateCode", code: "OK" });
    metrics.rpcRequests.inc({ method: "GenerateCode", code: "OK" });
    metrics.rpcRequests.inc({ method: "DeleteLabel", code: "NOT_FOUND" });
    metrics.rpcDuration.observe({ method: "GenerateCode" }, 0.0004);
    metrics.rpcDuration.observe({ method: "GenerateCode" }, 0.0015);
    metrics.seedCache.inc({ result: "hit" }, 3);
    metrics.seedCache.inc({ result: "miss" });
    metrics.rateLimited.inc({ kind: "label" });
    metrics.tlsCertificateExpiry.set(1_900_000_000);
    metrics.watchVaultToken(() => 3600);
    await metrics.timeStore("vault-kv", "codes", async () => "seed-free result");
    await expect(
      metrics.timeStore("vault-kv", "put", async () => {
        throw new Error("vault down");
      }),
    ).rejects.toThrow("vault down");

    server = await startMetricsServer(metrics, "127.0.0.1", 0);
    const res = await get(server.port, "/metrics");
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const lines = res.body.split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        "# TYPE totp_rpc_requests_total counter",
        'totp_rpc_requests_total{method="GenerateCode",code="OK"} 2',
        'totp_rpc_requests_total{method="DeleteLabel",code="NOT_FOUND"} 1',
        "# TYPE totp_rpc_duration_seconds histogram",
        'totp_rpc_duration_seconds_bucket{le="0.0005",method="GenerateCode"} 1',
        'totp_rpc_duration_seconds_bucket{le="0.001",method="GenerateCode"} 1',
        'totp_rpc_duration_seconds_bucket{le="0.002",method="GenerateCode"} 2',
        'totp_rpc_duration_seconds_count{method="GenerateCode"} 2',
        'totp_store_duration_seconds_count{store="vault-kv",op="codes"} 1',
        'totp_store_duration_seconds_count{store="vault-kv",op="put"} 1',
        'totp_store_errors_total{store="vault-kv",op="put"} 1',
        'totp_seed_cache_total{result="hit"} 3',
        'totp_seed_cache_total{result="miss"} 1',
        'totp_rate_limited_total{kind="label"} 1',
        "totp_tls_certificate_expiry_timestamp_seconds 1900000000",
        "totp_vault_token_ttl_seconds 3600",
      ]),
    );
    expect(lines).not.toContain('totp_store_errors_total{store="vault-kv",op="codes"} 1');
    // Default process metrics are there too.
    expect(res.body).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(res.body).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  it("keeps instances apart (each has its own registry)", async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.seedCache.inc({ result: "hit" });
    expect(await b.registry.metrics()).not.toContain('totp_seed_cache_total{result="hit"} 1');
    expect(await a.registry.metrics()).toContain('totp_seed_cache_total{result="hit"} 1');
  });

  it("answers 404 for anything but GET /metrics, and accepts a query string", async () => {
    server = await startMetricsServer(new Metrics(), "127.0.0.1", 0);
    expect((await get(server.port, "/")).status).toBe(404);
    expect((await get(server.port, "/metricsx")).status).toBe(404);
    expect((await get(server.port, "/metrics", "POST")).status).toBe(404);
    expect((await get(server.port, "/metrics?debug=1")).status).toBe(200);
  });

  it("closes while a scraper holds a keep-alive connection, and reports a taken port", async () => {
    const metrics = new Metrics();
    server = await startMetricsServer(metrics, "127.0.0.1", 0);
    await expect(startMetricsServer(metrics, "127.0.0.1", server.port)).rejects.toThrow(/EADDRINUSE/);
    const { Agent } = await import("node:http");
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) =>
      request({ host: "127.0.0.1", port: server?.port, path: "/metrics", agent }, (res) => {
        res.resume();
        res.on("end", resolve);
      })
        .on("error", reject)
        .end(),
    );
    await server.close();
    server = undefined;
    agent.destroy();
  });
});
