import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { codesBetween, freePort, newSecret } from "@totp-custody/testkit";
import { expect, it } from "vitest";

import { cleanEnv, runCommand } from "./runCommand.js";

/** The checkout this test belongs to; the clone takes its committed HEAD, as `git clone` gives a new user. */
const REPO = fileURLToPath(new URL("../../..", import.meta.url));

/** The commands of the README's quick start, run here one by one. */
const ADD = ["npx", "totpctl", "add", "demo", "-"];
const CODE = ["npx", "totpctl", "code", "demo"];

/** `npm start` in its own process group, as a shell runs it in a terminal: Ctrl-C reaches the whole group. */
function npmStart(cwd: string, env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn("npm", ["start"], { cwd, env: cleanEnv(env), detached: true, stdio: "pipe" });
  let output = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }));
  return {
    get output() {
      return output;
    },
    exited,
    async waitFor(text: string, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`npm start did not print ${JSON.stringify(text)}; it printed:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    /** Ctrl-C in the terminal: SIGINT to npm, the script and totp-core at once. */
    interrupt() {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGINT");
    },
    kill() {
      if (child.pid === undefined || child.exitCode !== null) return;
      // The group may be gone before Node has seen its exit: cleanup must not hide the error that led to it.
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      }
    },
  };
}

async function portRefuses(port: number): Promise<boolean> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return false;
  } catch {
    return true;
  } finally {
    socket.destroy();
  }
}

it("runs the README quick start in a fresh clone: npm ci, npm start, totpctl add and code, restart", async () => {
  const readme = await readFile(join(REPO, "README.md"), "utf8");
  const quickStart = readme.slice(
    readme.indexOf("## Quick start"),
    readme.indexOf("\n## ", readme.indexOf("## Quick start") + 1),
  );
  for (const command of ["npm ci", "npm start", ADD.join(" "), CODE.join(" ")]) expect(quickStart).toContain(command);

  const dir = await mkdtemp(join(tmpdir(), "totp-quickstart-"));
  const clone = join(dir, "totp-custody");
  const seed = newSecret();
  const port = await freePort();
  // The documented default port may be taken on a shared machine; TOTP_LISTEN is how the README moves it.
  const env = { TOTP_LISTEN: `127.0.0.1:${port}` };
  const starts: Array<ReturnType<typeof npmStart>> = [];
  try {
    const cloned = await runCommand("git", ["clone", "--quiet", REPO, clone]);
    expect(cloned, "git clone").toMatchObject({ code: 0 });
    const installed = await runCommand("npm", ["ci", "--no-audit", "--no-fund"], { cwd: clone });
    expect(installed.code, `npm ci: ${installed.stderr}`).toBe(0);
    // Every dependency's install script is decided in package.json: nothing for a new user to decode.
    expect(installed.stderr).not.toMatch(/install-scripts|allowScripts/);

    // A service's own start on a clone where nothing was built builds it first, then runs it: here it stops at
    // its configuration, naming the first missing variable, instead of Node's "Cannot find module .../dist".
    const coreAlone = await runCommand("npm", ["start", "--workspace", "services/totp-core"], { cwd: clone });
    expect(coreAlone.stderr).toContain("totp-core: configuration error: TOTP_TLS_CERT");
    expect(coreAlone.stderr).not.toContain("Cannot find module");

    const first = npmStart(clone, env);
    starts.push(first);
    await first.waitFor(CODE.join(" "), 300_000);
    expect(first.output).toContain("created in .dev/");

    const [addCommand = "", ...addArgs] = ADD;
    const added = await runCommand(addCommand, addArgs, { cwd: clone, input: `${seed}\n` });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe("stored demo: SHA1, 6 digits, 30s\n");

    const [codeCommand = "", ...codeArgs] = CODE;
    const codeOf = async () => {
      const before = Date.now();
      const run = await runCommand(codeCommand, codeArgs, { cwd: clone });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^\d{6}\n$/);
      expect(codesBetween(seed, before, Date.now())).toContain(run.stdout.trim());
    };
    await codeOf();

    first.interrupt();
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.output).toContain("totp-core stopped");
    expect(await portRefuses(port)).toBe(true);

    // A second start reuses the certificates, the key and the seeds.
    const second = npmStart(clone, env);
    starts.push(second);
    await second.waitFor(CODE.join(" "), 300_000);
    expect(second.output).toContain("reusing .dev/");
    await codeOf();
    second.interrupt();
    expect(await second.exited).toEqual({ code: 0, signal: null });

    for (const start of starts) expect(start.output).not.toContain(seed);
  } finally {
    for (const start of starts) start.kill();
    await rm(dir, { recursive: true, force: true });
  }
}, 900_000);
