import { spawn } from "node:child_process";

/**
 * Runs a short command to completion and answers its stdout; a non-zero exit throws with the command and its
 * stderr. `input` is written to its stdin (iptables-restore, kubectl apply -f -).
 */
export function runCommand(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", (error) => reject(new Error(`${command} could not start: ${error.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(" ")} failed (${signal ?? code}): ${stderr.trim().slice(-2000)}`));
    });
    child.stdin.end(input);
  });
}
