import type { ExitCode } from "./exitCodes.js";

/** A failure totpctl reports as one line on stderr (`totpctl: <message>`) and ends with `exitCode`. */
export class CliError extends Error {
  override readonly name = "CliError";

  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}
