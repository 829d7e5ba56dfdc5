import { once } from "node:events";
import type { Socket } from "node:net";
import { createServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import type { LoadedCertificates } from "./CertificateReloader.js";
import { type ClientCertificate, peerCertificate } from "./identity.js";

/** Why a connection is cut: see MtlsListener.cut. */
export type CutReason = "not_admitted" | "refusals";

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
  /** Time a connection being cut (see `cut`) gets to hear its refusal before it is closed. */
  refusedGraceMs: number;
  /** Told of each connection as it is closed by `cut`, with the client certificate of its handshake. */
  onCut(reason: CutReason, certificate: ClientCertificate | undefined): void;
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
  readonly #connections: Map<string, Connection>;
  readonly #options: MtlsListenerOptions;

  private constructor(server: TlsServer, connections: Map<string, Connection>, options: MtlsListenerOptions) {
    this.#server = server;
    this.#connections = connections;
    this.#options = options;
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
    // Each open connection by its peer address ("address:port", as grpc-js's getPeer names it), until it closes.
    const connections = new Map<string, Connection>();
    server.on("connection", (tcp: Socket) => {
      const peer = peerOf(tcp);
      connections.set(peer, { tcp, certificate: undefined, cutting: false });
      tcp.once("close", () => connections.delete(peer));
    });
    const listener = new MtlsListener(server, connections, options);
    server.on("secureConnection", (socket: TLSSocket) => {
      socket.on("error", () => {});
      const peer = peerOf(socket);
      const connection = connections.get(peer);
      if (connection) {
        connection.certificate = peerCertificate({ sslPeerCertificate: socket.getPeerCertificate() });
        if (!options.admits(connection.certificate)) listener.cut(peer, "not_admitted");
      }
      options.serve(socket);
    });
    server.listen(options.port, options.host);
    await Promise.race([once(server, "listening"), once(server, "error").then(([err]) => Promise.reject(err))]);
    return listener;
  }

  /**
   * Closes the connection of `peer` after the grace period, calls on it or not: what is done to a client the policy
   * does not admit, or that keeps sending calls that are refused. The TCP socket is reset, because HTTP/2 has taken
   * the TLS socket over and destroying that one leaves the connection open; the client sees the reset at once and
   * its calls in flight fail UNAVAILABLE (a call it was writing at that very moment may be left to its deadline: grpc-js
   * does not always notice the reset under a write).
   */
  cut(peer: string, reason: CutReason): void {
    const connection = this.#connections.get(peer);
    if (!connection || connection.cutting) return;
    connection.cutting = true;
    setTimeout(() => {
      if (connection.tcp.destroyed) return;
      connection.tcp.resetAndDestroy();
      this.#options.onCut(reason, connection.certificate);
    }, this.#options.refusedGraceMs).unref();
  }

  /** Cuts every open connection whose certificate the policy no longer admits: run after a policy reload. */
  cutUnadmitted(): void {
    for (const [peer, { certificate }] of this.#connections) {
      if (certificate && !this.#options.admits(certificate)) this.cut(peer, "not_admitted");
    }
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

interface Connection {
  tcp: Socket;
  /** The verified client certificate, once the handshake is done. */
  certificate: ClientCertificate | undefined;
  /** Set once a cut is scheduled, so a flood of refusals schedules one. */
  cutting: boolean;
}

function secureContextOf(loaded: LoadedCertificates) {
  return { cert: loaded.certificate, key: loaded.privateKey, ca: loaded.caCertificate };
}

const peerOf = (socket: Socket): string => `${socket.remoteAddress}:${socket.remotePort}`;
