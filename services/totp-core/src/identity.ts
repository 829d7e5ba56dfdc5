import { X509Certificate } from "node:crypto";
import { ServerInterceptingCall, type ServerInterceptor, type ServerUnaryCall } from "@grpc/grpc-js";

type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>["getAuthContext"]>;

/**
 * The metadata key under which the interceptor hands the verified client identity to the handlers. Whatever a
 * client sends under this key is removed first, so only the TLS layer can set it.
 */
export const VERIFIED_CLIENT_KEY = "x-totp-verified-client";

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

// Parsing a certificate costs far more than a call's own work; a connection presents the same one every call.
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

/** Reads the client identity from the TLS session of each call and passes it on in the call's metadata. */
export const identityInterceptor: ServerInterceptor = (_method, call) =>
  new ServerInterceptingCall(call, {
    start(next) {
      next({
        onReceiveMetadata(metadata, pass) {
          metadata.remove(VERIFIED_CLIENT_KEY);
          const id = peerIdentity(call.getAuthContext());
          if (id) metadata.set(VERIFIED_CLIENT_KEY, id);
          pass(metadata);
        },
      });
    },
  });
