import type { ProcessHandle } from "./runProcess.js";

export interface WaitUntilReadyOptions {
  /** The server, as a failure names it: "OpenBao at http://127.0.0.1:8200". */
  what: string;
  timeoutMs: number;
  /** Values to cut out of the output quoted in a failure (tokens, keys). */
  secrets?: readonly string[];
  /** Further redaction of that output, for secrets the server made itself and printed. */
  redact?: (output: string) => string;
}

const POLL_MS = 100;
const OUTPUT_TAIL = 3000;

/**
 * Polls `probe` (true when ready, else what it saw) until it holds. When the process exits first or the time runs
 * out, the process is stopped and the error names the server, the last thing the probe saw and the end of the
 * server's output, secrets cut out.
 */
export async function waitUntilReady(
  handle: ProcessHandle,
  options: WaitUntilReadyOptions,
  probe: () => Promise<true | string>,
): Promise<void> {
  let exited = false;
  const markExited = () => {
    exited = true;
  };
  void handle.exited.then(markExited, markExited);
  const deadline = Date.now() + options.timeoutMs;
  let last = "no answer";
  while (!exited && Date.now() < deadline) {
    try {
      const outcome = await probe();
      if (outcome === true) return;
      last = outcome;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  // Decided before the stop below, which ends the process either way.
  const state = exited ? "exited" : `did not get ready within ${options.timeoutMs} ms`;
  // Stopped before the message is made, so the output is complete (and the process is not left running).
  await handle.stop();
  let output = `${handle.stdout}\n${handle.stderr}`.trim().slice(-OUTPUT_TAIL);
  if (options.redact) output = options.redact(output);
  for (const secret of options.secrets ?? []) if (secret) output = output.replaceAll(secret, "<redacted>");
  throw new Error(`${options.what} ${state} (${last}):\n${output}`);
}
