import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";

/**
 * A TCP proxy in front of a server (Vault) that a test can make slow or hung, for faults a real server will not
 * produce on demand: a slow network, a partition that answers nothing.
 */
export interface TcpProxy {
  /** http://127.0.0.1:<port>, to use as VAULT_ADDR. */
  readonly url: string;
  /** Added to every chunk the server sends back; 0 forwards at once. */
  delayMs: number;
  /**
   * Hung: connections are accepted and what clients send is swallowed, nothing comes back (a partition). Setting
   * it back to false drops the connections opened meanwhile, as a partition that heals resets them.
   */
  hung: boolean;
  /** How many chunks clients sent that match `pattern`, e.g. HTTP request lines of one API path. */
  count(pattern: RegExp): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const held = new Set<Socket>();
  const sent: string[] = [];
  let hung = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    // A peer reset during a fault is expected; without a listener it would crash the test worker.
    socket.on("error", () => socket.destroy());
  };

  const server = createServer((client) => {
    track(client);
    if (hung) {
      held.add(client);
      client.resume();
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    track(upstream);
    client.on("data", (chunk: Buffer) => {
      if (hung) return;
      sent.push(chunk.toString("latin1"));
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      const forward = () => {
        if (!hung) client.write(chunk);
      };
      if (proxy.delayMs > 0) setTimeout(forward, proxy.delayMs);
      else forward();
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => setTimeout(() => client.destroy(), proxy.delayMs));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${port}`,
    delayMs: 0,
    get hung() {
      return hung;
    },
    set hung(value: boolean) {
      hung = value;
      if (!value) {
        for (const socket of held) socket.destroy();
        held.clear();
      }
    },
    count: (pattern) => sent.filter((chunk) => pattern.test(chunk)).length,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
  return proxy;
}
