import { spawn } from "node:child_process";

export interface CommandRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Settings for this run, on top of cleanEnv(). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to standard input, which is then closed; without it, standard input is empty. */
  input?: string;
}

/** The environment of a child that must see only what a test gives it: no TOTP_*, Vault or bot settings. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(TOTP_|VAULT_|TELEGRAM_|ZULIP_)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to its end with pipes for all three streams (no terminal), as a script would. */
export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}
