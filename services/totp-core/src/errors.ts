import { Metadata, type ServiceError, status } from "@grpc/grpc-js";

/** The outcomes a caller can act on; each maps to exactly one gRPC status code in `toServiceError`. */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "UNAVAILABLE"
  | "INTERNAL";

/**
 * The one error type of totp-core. Its message goes to the caller as is, so it must never hold a seed, a code or
 * text from a dependency (Vault's messages can echo request data); put such detail in `cause`, which only the log
 * sees.
 */
export class TotpError extends Error {
  override readonly name = "TotpError";
  readonly code: ErrorCode;
  /** For RESOURCE_EXHAUSTED: how long the caller should wait before trying again. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export const invalid = (message: string): TotpError => new TotpError("INVALID_ARGUMENT", message);

/** The only message an unexpected failure shows a caller; the detail goes to the log. */
export const INTERNAL_MESSAGE = "internal error; the server log has the details";

const grpcStatus: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

/** The gRPC status code of an outcome. */
export const statusOf = (outcome: "ok" | ErrorCode): status => (outcome === "ok" ? status.OK : grpcStatus[outcome]);

/** Any thrown value as a TotpError: ours pass through, everything else becomes INTERNAL with a fixed message. */
export function asTotpError(err: unknown): TotpError {
  if (err instanceof TotpError) return err;
  return new TotpError("INTERNAL", INTERNAL_MESSAGE, { cause: err });
}

/** The gRPC error a handler answers with. Only TotpError messages reach the caller. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const e = asTotpError(err);
  const metadata = new Metadata();
  if (e.retryAfterMs !== undefined) metadata.set("retry-after-ms", String(Math.ceil(e.retryAfterMs)));
  const message = e.code === "INTERNAL" ? INTERNAL_MESSAGE : e.message;
  return { code: grpcStatus[e.code], details: message, message, metadata };
}
