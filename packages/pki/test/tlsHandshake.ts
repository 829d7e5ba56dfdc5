import { once } from "node:events";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import type { PemPair } from "../src/index.js";

export type HandshakeResult = { ok: true; peerSan: string } | { ok: false; error: string };

/**
 * One mutual-TLS exchange over loopback: the server answers with the client certificate's SAN once it trusts it.
 * With TLS 1.3 the client may believe it is connected before the server has judged its certificate, so success
 * means the server's answer arrived, not merely that the client's handshake finished. A server that refuses the
 * client's certificate just closes the connection (Node reports no reason), so a failure says what the client saw.
 */
export async function tlsHandshake(caPem: string, server: PemPair, client: PemPair): Promise<HandshakeResult> {
  const tlsServer = tls.createServer(
    { cert: server.certPem, key: server.keyPem, ca: [caPem], requestCert: true, rejectUnauthorized: true },
    (socket) => socket.end(socket.getPeerCertificate().subjectaltname ?? ""),
  );
  tlsServer.listen(0, "127.0.0.1");
  await once(tlsServer, "listening");
  try {
    const { port } = tlsServer.address() as AddressInfo;
    return await new Promise<HandshakeResult>((resolve) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca: [caPem],
        cert: client.certPem,
        key: client.keyPem,
      });
      let answer = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => {
        answer += chunk;
      });
      socket.on("end", () => resolve(answer ? { ok: true, peerSan: answer } : { ok: false, error: "closed" }));
      socket.on("error", (error) => resolve({ ok: false, error: error.message }));
    });
  } finally {
    tlsServer.close();
  }
}
