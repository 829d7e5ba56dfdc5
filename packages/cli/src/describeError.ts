import { status, TotpClientError } from "@totp-custody/client";
import { CommanderError } from "commander";
import { CliError } from "./CliError.js";
import { ExitCode } from "./exitCodes.js";
import { rateLimitWait } from "./rateLimitWait.js";

/** grpc-js wraps a connection failure as "No connection established. Last error: <cause> (<time>). Resolution note: ". */
const CONNECTION_FAILURE =
  /^No connection established\. Last error: (.*?)(?: \(\d{4}-[^)]*\))?\.? Resolution note:.*$/s;

/**
 * What a failed connection means for the operator. The causes come from grpc-js and Node's TLS; the order matters:
 * a certificate problem of the server's side names a certificate, while the core refusing ours shows only as a
 * dropped connection or an alert.
 */
function connectionProblem(cause: string, address: string): string {
  if (/ECONNREFUSED/.test(cause)) return `cannot reach totp-core at ${address}: connection refused (is it running?)`;
  if (/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/.test(cause)) return `cannot reach totp-core at ${address}: ${cause}`;
  if (/alert|ECONNRESET|EPIPE|socket hang up|Failed to connect/i.test(cause)) {
    return (
      `totp-core at ${address} refused the TLS handshake: check that the client certificate (--cert, ` +
      "TOTP_TLS_CERT) is valid and signed by the CA totp-core trusts"
    );
  }
  if (/certificate|altname|CERT_|self-signed/i.test(cause)) {
    return `cannot trust totp-core's certificate at ${address} (${cause.replace(/^Error( \[\w+\])?: /, "")}): check --ca, TOTP_TLS_CA`;
  }
  return `cannot connect to totp-core at ${address}: ${cause}`;
}

function fromClientError(err: TotpClientError, address: string): CliError {
  switch (err.code) {
    case status.NOT_FOUND:
    case status.PERMISSION_DENIED:
    case status.UNAUTHENTICATED:
      return new CliError(err.message, ExitCode.notFound);
    case status.INVALID_ARGUMENT:
    case status.ALREADY_EXISTS:
    case status.FAILED_PRECONDITION:
    case status.OUT_OF_RANGE:
      return new CliError(err.message, ExitCode.invalid);
    case status.RESOURCE_EXHAUSTED:
      if (rateLimitWait(err) === undefined) {
        return new CliError(`the request is too large for totp-core (${err.message})`, ExitCode.invalid);
      }
      return new CliError(err.message, ExitCode.rateLimited);
    case status.DEADLINE_EXCEEDED:
      return new CliError(`totp-core at ${address} did not answer in time`, ExitCode.unavailable);
    case status.UNAVAILABLE: {
      const cause = CONNECTION_FAILURE.exec(err.message)?.[1];
      if (cause !== undefined) return new CliError(connectionProblem(cause, address), ExitCode.unavailable);
      if (/^Name resolution failed/.test(err.message)) {
        return new CliError(`cannot resolve the host of totp-core's address ${address}`, ExitCode.unavailable);
      }
      // The core answered: its seed store (Vault) is down, or it is shutting down.
      return new CliError(`totp-core is unavailable: ${err.message}`, ExitCode.unavailable);
    }
    default:
      return new CliError(`totp-core failed: ${err.message} (${err.codeName})`, ExitCode.internal);
  }
}

/**
 * Any failure as the one line and exit code totpctl ends with. `address` names the core in connection errors.
 * An unexpected error keeps only its message: a stack trace helps nobody running a CLI, and never reaches stderr.
 */
export function describeError(err: unknown, address = "the configured address"): CliError {
  let described: CliError;
  if (err instanceof CliError) described = err;
  else if (err instanceof TotpClientError) described = fromClientError(err, address);
  else if (err instanceof CommanderError) {
    described = new CliError(err.message.replace(/^error: /, ""), ExitCode.usage);
  } else
    described = new CliError(
      `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
      ExitCode.internal,
    );
  // One line, always: multi-line messages (grpc-js, Node) would break scripts that read stderr line by line.
  const oneLine = described.message.replace(/\s*\n\s*/g, " ").trim();
  return oneLine === described.message ? described : new CliError(oneLine, described.exitCode);
}
