import { once } from "node:events";
import { connect as tcpConnect } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { credentials, makeGenericClientConstructor, type ServiceError, status } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  announcedPorts,
  type CoreFixture,
  checkHealth,
  eventually,
  mtlsCredentials,
  startCoreFixture,
} from "./grpcHarness.js";

const MAX_CONNECTIONS = 8;
/** What the probe port allows; more connections than this are closed as they arrive. */
const PROBE_MAX_CONNECTIONS = 16;

/** Open sockets, each with whether the server has closed it yet. */
function tracked<S extends { once(event: "close", listener: () => void): unknown }>(sockets: S[]) {
  const closed = new Set<S>();
  for (const socket of sockets) socket.once("close", () => closed.add(socket));
  return { closed, open: () => sockets.filter((s) => !closed.has(s)) };
}

describe("connections totp-core does not keep", () => {
  let fx: CoreFixture;
  let probePort: number;
  const sockets: { destroy(): void }[] = [];

  beforeAll(async () => {
    fx = await startCoreFixture("file", {
      TOTP_HEALTH_LISTEN: "127.0.0.1:0",
      TOTP_TLS_HANDSHAKE_TIMEOUT_MS: "1000",
      TOTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    });
    probePort = announcedPorts(fx.core).health ?? 0;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await fx?.close();
  });

  /** A TLS connection to the mTLS port with the test certificate `name`, once its handshake is done. */
  const tlsAs = async (name: "admin" | "stranger"): Promise<TLSSocket> => {
    const cert = fx.pki.clients[name];
    if (!cert) throw new Error(`no certificate ${name}`);
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: fx.core.port,
      servername: "localhost",
      ca: fx.pki.ca.certPem,
      cert: cert.certPem,
      key: cert.keyPem,
      ALPNProtocols: ["h2"],
    });
    socket.on("error", () => {});
    sockets.push(socket);
    await once(socket, "secureConnect");
    return socket;
  };

  it("closes a TCP connection that never starts its TLS handshake", async () => {
    const idle = Array.from({ length: 20 }, () => {
      const socket = tcpConnect(fx.core.port, "127.0.0.1");
      socket.on("error", () => {});
      sockets.push(socket);
      return socket;
    });
    const { open } = tracked(idle);
    await eventually(() => open().length === 0, "every silent connection closed by the server");
  });

  it("closes the connection of a certificate the policy does not name, and keeps a known client's", async () => {
    const [known, stranger] = await Promise.all([tlsAs("admin"), tlsAs("stranger")]);
    const { closed } = tracked([known, stranger]);
    await eventually(() => closed.has(stranger), "the stranger's connection closed");
    expect(closed.has(known)).toBe(false);
    known.destroy();
  });

  it("accepts at most TOTP_MAX_CONNECTIONS connections at once", async () => {
    const attempts = await Promise.allSettled(Array.from({ length: MAX_CONNECTIONS + 6 }, () => tlsAs("admin")));
    const connected = attempts.flatMap((a) => (a.status === "fulfilled" ? [a.value] : []));
    // A connection already closed again counts as closed.
    const { open } = tracked(connected.filter((s) => !s.destroyed));
    // Connections over the cap are dropped as they arrive (some may complete a handshake first): at most the cap stay.
    await eventually(() => open().length <= MAX_CONNECTIONS, "no more open connections than the cap");
    expect(open().length).toBeGreaterThan(0);
    for (const socket of connected) socket.destroy();
    await eventually(
      async () => (await checkHealth(fx.core.address, mtlsCredentials(fx, "admin"))) === "SERVING",
      "room again",
    );
  });

  it("serves Check on the probe port but refuses Watch", async () => {
    expect(await checkHealth(`127.0.0.1:${probePort}`, credentials.createInsecure())).toBe("SERVING");
    const Health = makeGenericClientConstructor(healthService, "Health");
    const client = new Health(`127.0.0.1:${probePort}`, credentials.createInsecure());
    type Watch = (request: { service: string }, options: { deadline: Date }) => NodeJS.EventEmitter;
    const watch = (client.Watch as Watch).bind(client);
    // The deadline only ends a stream that was (wrongly) accepted.
    const stream = watch({ service: "" }, { deadline: new Date(Date.now() + 10_000) });
    const [err] = (await once(stream, "error")) as [ServiceError];
    client.close();
    expect(err.code).toBe(status.UNIMPLEMENTED);
  });

  it("keeps at most a few plaintext connections on the probe port", async () => {
    const many = Array.from({ length: PROBE_MAX_CONNECTIONS + 24 }, () => {
      const socket = tcpConnect(probePort, "127.0.0.1");
      socket.on("error", () => {});
      sockets.push(socket);
      return socket;
    });
    const { open } = tracked(many);
    await eventually(() => open().length <= PROBE_MAX_CONNECTIONS, "the connections over the cap closed");
    for (const socket of many) socket.destroy();
    await eventually(
      async () => (await checkHealth(`127.0.0.1:${probePort}`, credentials.createInsecure())) === "SERVING",
      "the probe answered again",
    );
  });
});
