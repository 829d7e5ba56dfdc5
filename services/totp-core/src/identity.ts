import { X509Certificate } from "node:crypto";
import type { ServerUnaryCall } from "@grpc/grpc-js";

type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>["getAuthContext"]>;

/** Entries of a subjectAltName string; Node JSON-quotes values holding special characters. */
const sanEntry = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;

/** The single `spiffe://` URI SAN of a certificate, or undefined when there is none or more than one. */
export function spiffeIdOf(certificate: X509Certificate): string | undefined {
  const uris: string[] = [];
  for (const [, kind, raw = ""] of (certificate.subjectAltName ?? "").matchAll(sanEntry)) {
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (kind === "URI" && value.startsWith("spiffe://")) uris.push(value);
  }
  return uris.length === 1 ? uris[0] : undefined;
}

// Parsing a certificate costs far more than a call's own work; a new connection often presents a known one.
const byFingerprint = new Map<string, string | undefined>();
const CACHE_LIMIT = 10_000;

/** The verified SPIFFE identity of the peer of an mTLS call, or undefined (no or unusable certificate). */
export function peerIdentity(context: AuthContext): string | undefined {
  const peer = context?.sslPeerCertificate;
  if (!peer?.raw) return undefined;
  const key = peer.fingerprint256;
  if (byFingerprint.has(key)) return byFingerprint.get(key);
  const id = spiffeIdOf(new X509Certificate(peer.raw));
  if (byFingerprint.size >= CACHE_LIMIT) byFingerprint.clear();
  byFingerprint.set(key, id);
  return id;
}

/**
 * Identities by HTTP/2 session, that is by connection. A connection's client certificate is fixed by its TLS
 * handshake, yet getAuthContext() has Node build the whole certificate object again on every call (three
 * fingerprints, names, the key), which cost more CPU than all the rest of a warm GenerateCode. Keyed weakly: a
 * closed connection's entry goes with it, and a new connection is a new session that never inherits one.
 */
const bySession = new WeakMap<object, string | undefined>();

/**
 * The HTTP/2 session a call came on. grpc-js keeps its own call object under `call`, and that one Node's HTTP/2
 * stream under `stream`; neither is part of its typed API, so a call without that shape (another grpc-js version,
 * a test double) is looked up the slow way, which gives the same answer.
 */
function sessionOf(call: object): object | undefined {
  const session = (call as { call?: { stream?: { session?: unknown } } }).call?.stream?.session;
  return typeof session === "object" && session !== null ? session : undefined;
}

/**
 * The verified SPIFFE identity in the client certificate of the connection a call came on, or undefined (no or
 * unusable certificate). Read from the TLS session alone: nothing the client sends with the call can set it.
 */
export function clientIdentity(call: Pick<ServerUnaryCall<unknown, unknown>, "getAuthContext">): string | undefined {
  const session = sessionOf(call);
  if (session && bySession.has(session)) return bySession.get(session);
  const id = peerIdentity(call.getAuthContext());
  if (session) bySession.set(session, id);
  return id;
}
