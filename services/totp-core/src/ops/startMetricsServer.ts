import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./Metrics.js";

export interface MetricsServer {
  /** The bound port (the real one when 0 was asked). */
  port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` in Prometheus text format and 404 for anything else; nothing else lives on this port. */
export function startMetricsServer(metrics: Metrics, host: string, port: number): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = req.url?.split("?", 1)[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("cannot collect metrics\n"),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // A scraper's keep-alive connection would otherwise hold close() open until it times out.
            server.closeAllConnections();
          }),
      });
    });
  });
}
