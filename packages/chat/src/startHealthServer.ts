import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { HostPort } from "./botConfig.js";

/** One readiness condition: resolves when it holds, throws (or rejects) with the reason when it does not. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/** A readiness check that does not answer within this long has failed: a probe must not hang on a dead peer. */
const CHECK_TIMEOUT_MS = 3000;

async function withTimeout(name: string, check: ReadinessCheck): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${name}: no answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      check().then(
        () => undefined,
        (err: unknown) => `${name}: ${err instanceof Error ? err.message : String(err)}`,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The bots' plain-HTTP probe port (BOT_HEALTH_LISTEN): `GET /healthz` answers 200 while the process runs;
 * `GET /readyz` answers 200 when every named check passes, else 503 with one line per failed check. The reasons
 * name a dependency and its state, never a credential: a probe's answer can end up in cluster events.
 */
export async function startHealthServer(
  listen: HostPort,
  checks: Record<string, ReadinessCheck>,
): Promise<HealthServer> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://probe").pathname;
    const answer = (status: number, body: string) => {
      response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      response.end(`${body}\n`);
    };
    if (request.method !== "GET" && request.method !== "HEAD") return answer(405, "method not allowed");
    if (path === "/healthz") return answer(200, "ok");
    if (path !== "/readyz") return answer(404, "not found");
    void Promise.all(Object.entries(checks).map(([name, check]) => withTimeout(name, check))).then((results) => {
      const failed = results.filter((reason): reason is string => reason !== undefined);
      answer(failed.length === 0 ? 200 : 503, failed.length === 0 ? "ready" : failed.join("\n"));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
