import { once } from "node:events";
import type { Socket } from "node:net";
import { createServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import type { LoadedCertificates } from "./CertificateReloader.js";
import { type ClientCertificate, peerCertificate } from "./identity.js";

export interface MtlsListenerOptions {
  host: string;
  port: number;
  certificates: LoadedCertificates;
  /** A connection that has not finished its TLS handshake by then is closed (Node's own default is 120 s). */
  handshakeTimeoutMs: number;
  /** Connections beyond this many open ones are closed as they arrive. */
  maxConnections: number;
  /** Whether the policy knows the verified client certificate of a new connection (and has not revoked it). */
  admits(certificate: ClientCertificate | undefined): boolean;
  /** Time a connection of an identity the policy does not admit gets to hear its PERMISSION_DENIED before it is cut. */
  refusedGraceMs: number;
  /** Hands an authenticated connection to the gRPC server. */
  serve(socket: TLSSocket): void;
}

/**
 * The mTLS port. TLS is ours rather than grpc-js's, which sets neither a handshake timeout nor a connection cap and
 * keeps every connection whatever its certificate: here a socket that never completes a handshake is closed after
 * `handshakeTimeoutMs`, open connections are capped, and a connection whose certificate names no client of the
 * policy is closed soon after its handshake. The decrypted connection then goes to grpc-js, which reads the client
 * certificate from it as it would from its own.
 */
export class MtlsListener {
  readonly #server: TlsServer;

  private constructor(server: TlsServer) {
    this.#server = server;
  }

  static async listen(options: MtlsListenerOptions): Promise<MtlsListener> {
    const server = createServer({
      ...secureContextOf(options.certificates),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ["h2"],
      handshakeTimeout: options.handshakeTimeoutMs,
    });
    server.maxConnections = options.maxConnections;
    // A failed handshake (timeout, untrusted certificate) is the client's problem. With a listener here, Node
    // leaves closing the socket to us: a timed-out handshake would otherwise stay open.
    server.on("tlsClientError", (_err, socket) => socket.destroy());
    // Cutting a connection that HTTP/2 has taken over needs its TCP socket: destroying the TLS socket then leaves
    // the connection open. The TCP socket of each connection, by its peer address, until it closes.
    const tcpByPeer = new Map<string, Socket>();
    server.on("connection", (tcp: Socket) => {
      const peer = peerOf(tcp);
      tcpByPeer.set(peer, tcp);
      tcp.once("close", () => tcpByPeer.delete(peer));
    });
    server.on("secureConnection", (socket: TLSSocket) => {
      socket.on("error", () => {});
      const certificate = peerCertificate({ sslPeerCertificate: socket.getPeerCertificate() });
      const tcp = tcpByPeer.get(peerOf(socket));
      if (tcp && !options.admits(certificate)) {
        setTimeout(() => tcp.resetAndDestroy(), options.refusedGraceMs).unref();
      }
      options.serve(socket);
    });
    server.listen(options.port, options.host);
    await Promise.race([once(server, "listening"), once(server, "error").then(([err]) => Promise.reject(err))]);
    return new MtlsListener(server);
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  /** New connections use these (a rotation); open ones keep the certificates of their handshake. */
  useCertificates(certificates: LoadedCertificates): void {
    this.#server.setSecureContext(secureContextOf(certificates));
  }

  /** Stops accepting; open connections are the gRPC server's to close. */
  close(): void {
    this.#server.close();
  }
}

function secureContextOf(loaded: LoadedCertificates) {
  return { cert: loaded.certificate, key: loaded.privateKey, ca: loaded.caCertificate };
}

const peerOf = (socket: Socket): string => `${socket.remoteAddress}:${socket.remotePort}`;
