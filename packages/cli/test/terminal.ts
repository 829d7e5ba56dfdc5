import { spawn } from "node:child_process";
import { cleanEnv } from "./runCommand.js";

export interface TerminalRun {
  /** Everything the terminal showed so far, control sequences included. */
  readonly output: string;
  /** Types into the terminal, as a keyboard would. */
  type(keys: string): void;
  /** Resolves once `check` holds for the output; rejects on timeout or exit, naming `what` it waited for. */
  waitUntil(check: (output: string) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves once the output matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** The exit code of the command run in the terminal. */
  readonly exited: Promise<number | null>;
}

const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

/**
 * Runs a shell command in a real pseudo-terminal with util-linux `script` (present on every Debian-based system:
 * it ships in the essential bsdutils package). The command sees a terminal on stdin, stdout and stderr; what we
 * write goes through the terminal's line discipline, so Ctrl-C (\x03) becomes SIGINT, as from a keyboard.
 */
export function runInTerminal(
  command: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): TerminalRun {
  // -q no banner, -f flush at once, -e the command's exit code, -c the command; the typescript file is discarded.
  // `script` runs the command through $SHELL -c; `exec` makes the shell give way to it, so that Ctrl-C reaches the
  // command alone (dash, the /bin/sh used when SHELL is unset, would otherwise wait in the same process group and
  // die of the SIGINT itself, making the exit code 130 whatever the command did).
  const child = spawn("script", ["-qfec", `exec ${command.map(quote).join(" ")}`, "/dev/null"], {
    cwd: options.cwd,
    env: cleanEnv({ TERM: "xterm", ...options.env }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const watchers = new Set<() => void>();
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
    for (const watch of watchers) watch();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  let done = false;
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      done = true;
      for (const watch of watchers) watch();
      resolve(code);
    });
  });

  const run: TerminalRun = {
    get output() {
      return output;
    },
    type(keys) {
      child.stdin.write(keys);
    },
    waitUntil(check, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(watch);
          reject(new Error(`no ${what} in the terminal within ${timeoutMs} ms; it showed: ${JSON.stringify(output)}`));
        }, timeoutMs);
        const watch = () => {
          const ok = check(output);
          if (ok || done) {
            clearTimeout(timer);
            watchers.delete(watch);
            if (ok) resolve();
            else reject(new Error(`exited before ${what}; it showed: ${JSON.stringify(output)}`));
          }
        };
        watchers.add(watch);
        watch();
      });
    },
    waitFor(pattern, timeoutMs) {
      return run.waitUntil((text) => pattern.test(text), String(pattern), timeoutMs);
    },
    exited: exited.finally(() => child.stdin.end()),
  };
  return run;
}
