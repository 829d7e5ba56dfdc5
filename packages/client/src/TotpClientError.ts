import { status } from "@grpc/grpc-js";

/** A failed call: the gRPC status, the core's message, and for rate limits the delay the core asked for. */
export class TotpClientError extends Error {
  override readonly name = "TotpClientError";
  /** The numeric gRPC status code. */
  readonly code: status;
  /** The status code's name, such as "NOT_FOUND". */
  readonly codeName: string;
  /** How long to wait before retrying, when the core said (RESOURCE_EXHAUSTED). */
  readonly retryAfterMs: number | undefined;

  constructor(code: status, details: string, retryAfterMs?: number) {
    super(details || (status[code] ?? "UNKNOWN"));
    this.code = code;
    this.codeName = status[code] ?? "UNKNOWN";
    this.retryAfterMs = retryAfterMs;
  }
}
