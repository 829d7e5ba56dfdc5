import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { HostPort } from "./config.js";

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/** The readiness checks: each answers whether its dependency is usable now. */
export interface ReadinessChecks {
  telegram: () => Promise<boolean>;
  core: () => Promise<boolean>;
}

/**
 * Plain HTTP for Kubernetes probes, on BOT_HEALTH_LISTEN: `/healthz` answers 200 while the process runs;
 * `/readyz` 200 when the Bot API answers getMe and totp-core's health is SERVING, 503 otherwise, with a line
 * saying which failed. Nothing else is served.
 */
export async function startHealthServer(at: HostPort, checks: ReadinessChecks): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path !== "/readyz") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    void Promise.all([checks.telegram().catch(() => false), checks.core().catch(() => false)]).then(
      ([telegram, core]) => {
        const ready = telegram && core;
        const body = `telegram: ${telegram ? "ok" : "unreachable"}\ntotp-core: ${core ? "serving" : "not serving"}\n`;
        res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(body);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
