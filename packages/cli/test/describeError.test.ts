import { status, TotpClientError } from "@totp-custody/client";
import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { CliError } from "../src/CliError.js";
import { describeError } from "../src/describeError.js";
import { ExitCode } from "../src/exitCodes.js";

const ADDRESS = "127.0.0.1:8443";
const described = (err: unknown) => {
  const cli = describeError(err, ADDRESS);
  return { exitCode: cli.exitCode, message: cli.message };
};
/** How grpc-js reports a channel that could not connect. */
const noConnection = (cause: string) =>
  new TotpClientError(
    status.UNAVAILABLE,
    `No connection established. Last error: ${cause} (2030-01-01T12:00:00.000Z). Resolution note: `,
  );

describe("describeError", () => {
  it.each([
    [status.NOT_FOUND, ExitCode.notFound],
    [status.PERMISSION_DENIED, ExitCode.notFound],
    [status.UNAUTHENTICATED, ExitCode.notFound],
    [status.INVALID_ARGUMENT, ExitCode.invalid],
    [status.ALREADY_EXISTS, ExitCode.invalid],
    [status.FAILED_PRECONDITION, ExitCode.invalid],
    [status.INTERNAL, ExitCode.internal],
    [status.UNKNOWN, ExitCode.internal],
  ])("maps gRPC status %i to exit code %i", (code, exitCode) => {
    expect(described(new TotpClientError(code, "the core's message")).exitCode).toBe(exitCode);
  });

  it("tells a rate limit, which says when to retry, from a request over the size limit", () => {
    const limited = new TotpClientError(status.RESOURCE_EXHAUSTED, "rate limit exceeded; retry in 2 s", 2000);
    expect(described(limited)).toEqual({ exitCode: ExitCode.rateLimited, message: limited.message });
    const tooLarge = new TotpClientError(
      status.RESOURCE_EXHAUSTED,
      "Received message larger than max (18705 vs 16384)",
    );
    expect(described(tooLarge)).toEqual({
      exitCode: ExitCode.invalid,
      message: "the request is too large for totp-core (Received message larger than max (18705 vs 16384))",
    });
  });

  it("passes the core's own message on, which names the label and the reason", () => {
    expect(described(new TotpClientError(status.NOT_FOUND, "label github not found"))).toEqual({
      exitCode: ExitCode.notFound,
      message: "label github not found",
    });
    expect(described(new TotpClientError(status.INTERNAL, "internal error")).message).toBe(
      "totp-core failed: internal error (INTERNAL)",
    );
  });

  it("tells a core that is down from a refused or untrusted TLS handshake", () => {
    expect(described(noConnection(`Error: connect ECONNREFUSED ${ADDRESS}`))).toEqual({
      exitCode: ExitCode.unavailable,
      message: `cannot reach totp-core at ${ADDRESS}: connection refused (is it running?)`,
    });
    for (const cause of ["read ECONNRESET", "Failed to connect", "Error: tlsv1 alert unknown ca"]) {
      expect(described(noConnection(cause)).message).toMatch(
        new RegExp(`^totp-core at ${ADDRESS} refused the TLS handshake: check that the client certificate`),
      );
    }
    expect(described(noConnection("Error: self-signed certificate in certificate chain"))).toEqual({
      exitCode: ExitCode.unavailable,
      message: `cannot trust totp-core's certificate at ${ADDRESS} (self-signed certificate in certificate chain): check --ca, TOTP_TLS_CA`,
    });
  });

  it("reports a core whose store is down, a timeout and a bad host as unavailable", () => {
    expect(described(new TotpClientError(status.UNAVAILABLE, "seed store unavailable"))).toEqual({
      exitCode: ExitCode.unavailable,
      message: "totp-core is unavailable: seed store unavailable",
    });
    expect(described(new TotpClientError(status.DEADLINE_EXCEEDED, "Deadline exceeded")).exitCode).toBe(
      ExitCode.unavailable,
    );
    expect(
      described(new TotpClientError(status.UNAVAILABLE, "Name resolution failed for target dns:nope.invalid:1")),
    ).toEqual({ exitCode: ExitCode.unavailable, message: `cannot resolve the host of totp-core's address ${ADDRESS}` });
  });

  it("turns usage errors, our own errors and surprises into one line without a stack", () => {
    const usage = new CommanderError(1, "commander.unknownCommand", "error: unknown command 'frob'");
    expect(described(usage)).toEqual({ exitCode: ExitCode.usage, message: "unknown command 'frob'" });
    expect(described(new CliError("a\n  b", ExitCode.invalid))).toEqual({ exitCode: ExitCode.invalid, message: "a b" });
    expect(described(new TypeError("x is not a function"))).toEqual({
      exitCode: ExitCode.internal,
      message: "unexpected error: x is not a function",
    });
  });
});
