import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * A server gone down for `durationMs`, as a restarting service with nothing in front of it: open connections are
 * cut and the port refuses new ones, then it listens again on the same address, so clients configured with its URL
 * find it back. Resolves once it listens.
 */
export async function refuseConnectionsFor(server: Server, durationMs: number): Promise<void> {
  const { address, port } = server.address() as AddressInfo;
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await stopped;
  await sleep(durationMs);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
