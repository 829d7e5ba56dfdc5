import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";

/**
 * A loopback port free at the time of the call, for servers that must be told their port up front (OpenBao,
 * kube-apiserver) instead of binding port 0 themselves.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}
