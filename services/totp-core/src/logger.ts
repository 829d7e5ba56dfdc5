import { type Logger, pino } from "pino";

/**
 * Errors are logged by a fixed set of fields: errors from HTTP clients carry the request they failed on (its body
 * can hold a seed, its headers a Vault token), so spreading an error object into a log line is never safe.
 */
export function safeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const e = err as Error & { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  return {
    type: e.name,
    message: e.message,
    code: typeof e.code === "string" || typeof e.code === "number" ? e.code : undefined,
    statusCode: e.statusCode ?? e.response?.statusCode,
    stack: e.stack,
    cause: e.cause !== undefined && depth < 2 ? safeError(e.cause, depth + 1) : undefined,
  };
}

/** The request fields that can hold a seed (or a Vault token). */
const SECRET_FIELDS = ["secret", "secretBase32", "otpauthUri", "uri", "spec", "token"];

/**
 * The service log: JSON lines on stdout, request fields that can hold a seed redacted at the top of a line (a
 * request spread into it) and one level down (`{ request }`). pino matches fixed depths only: a request nested
 * deeper is not redacted.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "totp-core" },
    serializers: { err: safeError },
    redact: {
      paths: SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
      censor: "[redacted]",
    },
  });
}
