import { createInterface } from "node:readline/promises";
import { CliError } from "./CliError.js";
import { ExitCode } from "./exitCodes.js";

/** Whether an answer to a yes/no question means yes; anything else, an empty line included, means no. */
export function isYes(answer: string): boolean {
  return /^\s*y(es)?\s*$/i.test(answer);
}

/**
 * Asks a yes/no question on the terminal (on stderr, so a redirected stdout stays clean); the default is no.
 * Ctrl-C and Ctrl-D cancel rather than answer.
 */
export async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await new Promise<boolean>((resolve, reject) => {
      const cancel = () => reject(new CliError("cancelled", ExitCode.usage));
      prompt.on("SIGINT", cancel);
      prompt.question(`${question} [y/N] `).then((answer) => resolve(isYes(answer)), cancel);
    });
  } finally {
    prompt.close();
  }
}
