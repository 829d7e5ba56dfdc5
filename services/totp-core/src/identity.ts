import { X509Certificate } from "node:crypto";
import type { ServerUnaryCall } from "@grpc/grpc-js";

type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>["getAuthContext"]>;

/** Entries of a subjectAltName string; Node JSON-quotes values holding special characters. */
const sanEntry = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;

/**
 * The SPIFFE ID of a certificate: its URI SAN when it has exactly one and that one is `spiffe://`, else undefined.
 * An X.509-SVID has exactly one URI SAN; a certificate with a second one (say the admin's ID plus any other URI) is
 * not an identity we can name, so it is none.
 */
export function spiffeIdOf(certificate: X509Certificate): string | undefined {
  const uris: string[] = [];
  for (const [, kind, raw = ""] of (certificate.subjectAltName ?? "").matchAll(sanEntry)) {
    if (kind === "URI") uris.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  const [only] = uris;
  return uris.length === 1 && only?.startsWith("spiffe://") ? only : undefined;
}

/** What a call's client certificate says about its holder: the SPIFFE ID and when it was issued. */
export interface ClientCertificate {
  /** Undefined when the certificate carries no usable SPIFFE ID. */
  readonly id: string | undefined;
  /** Its notBefore, in ms since the epoch: checked against the identity's `issuedAfter` in the policy. */
  readonly notBefore: number;
}

/** The identity and issue time of a parsed certificate. */
export function certificateOf(certificate: X509Certificate): ClientCertificate {
  return { id: spiffeIdOf(certificate), notBefore: Date.parse(certificate.validFrom) };
}

// Parsing a certificate costs far more than a call's own work; a new connection often presents a known one.
const byFingerprint = new Map<string, ClientCertificate>();
const CACHE_LIMIT = 10_000;

/** The verified client certificate of the peer of an mTLS call, or undefined (no certificate). */
export function peerCertificate(context: AuthContext): ClientCertificate | undefined {
  const peer = context?.sslPeerCertificate;
  if (!peer?.raw) return undefined;
  const key = peer.fingerprint256;
  const known = byFingerprint.get(key);
  if (known) return known;
  const found = certificateOf(new X509Certificate(peer.raw));
  if (byFingerprint.size >= CACHE_LIMIT) byFingerprint.clear();
  byFingerprint.set(key, found);
  return found;
}

/**
 * Identities by HTTP/2 session, that is by connection. A connection's client certificate is fixed by its TLS
 * handshake, yet getAuthContext() has Node build the whole certificate object again on every call (three
 * fingerprints, names, the key), which cost more CPU than all the rest of a warm GenerateCode. Keyed weakly: a
 * closed connection's entry goes with it, and a new connection is a new session that never inherits one.
 */
const bySession = new WeakMap<object, ClientCertificate | undefined>();

/**
 * The HTTP/2 session a call came on. grpc-js keeps its own call object under `call`, and that one Node's HTTP/2
 * stream under `stream`; neither is part of its typed API, so a call without that shape (another grpc-js version,
 * a test double) is looked up the slow way, which gives the same answer.
 */
function sessionOf(call: object): object | undefined {
  const session = (call as { call?: { stream?: { session?: unknown } } }).call?.stream?.session;
  return typeof session === "object" && session !== null ? session : undefined;
}

type Call = Pick<ServerUnaryCall<unknown, unknown>, "getAuthContext">;

/**
 * The verified client certificate of the connection a call came on, or undefined (none). Read from the TLS session
 * alone: nothing the client sends with the call can set it.
 */
export function clientCertificate(call: Call): ClientCertificate | undefined {
  const session = sessionOf(call);
  if (session && bySession.has(session)) return bySession.get(session);
  const found = peerCertificate(call.getAuthContext());
  if (session) bySession.set(session, found);
  return found;
}
