import { ReadStream } from "node:tty";
import { CliError } from "./CliError.js";
import { ExitCode } from "./exitCodes.js";
import { readHiddenLine } from "./readHiddenLine.js";

/** More than any seed or one export batch; a larger input is a mistake (a wrong file piped in). */
export const MAX_INPUT_BYTES = 64 * 1024;

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > MAX_INPUT_BYTES) {
      throw new CliError(`standard input is over ${MAX_INPUT_BYTES / 1024} KiB: that is not a seed`, ExitCode.invalid);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The secret text for a `-` argument: typed without echo when standard input is a terminal (the prompt goes to
 * stderr, so stdout stays clean), otherwise everything piped in.
 */
export function readSecretInput(what: string): Promise<string> {
  const input = process.stdin;
  if (input instanceof ReadStream && input.isTTY) {
    return readHiddenLine(input, `${what} (typing is hidden; Enter to finish): `, process.stderr);
  }
  return readAll(input);
}
