import { fileURLToPath } from "node:url";
import { type CommandRun, type RunOptions, runCommand } from "./runCommand.js";

/** The checked-in bin, as `npx totpctl` runs it; `npm test` builds dist/ before the tests. */
export const TOTPCTL = fileURLToPath(new URL("../bin/totpctl.js", import.meta.url));

/** Runs totpctl as its own process, without a terminal; every TOTP_* of the test runner is left out first. */
export function runTotpctl(args: readonly string[], options: RunOptions = {}): Promise<CommandRun> {
  return runCommand(process.execPath, [TOTPCTL, ...args], options);
}
