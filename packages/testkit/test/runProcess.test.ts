import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runProcess } from "../src/index.js";

const node = process.execPath;

/** Gone, or a zombie nobody has reaped yet: either way no longer running. */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

describe("runProcess", () => {
  it("keeps stdout and stderr and reports the exit code", async () => {
    const handle = runProcess(
      node,
      ["-e", 'console.log("out " + process.env.GREETING); console.error("err"); process.exit(3)'],
      {
        env: { GREETING: "hello" },
      },
    );
    expect(await handle.exited).toEqual({ code: 3, signal: null });
    expect(handle.stdout).toBe("out hello\n");
    expect(handle.stderr).toBe("err\n");
  });

  it("keeps only the tail of each stream when outputTail is set", async () => {
    // 100,000 numbered lines (about 590 kB) on stdout, across many chunks; one line on stderr.
    const script = 'for (let i = 0; i < 100000; i++) console.log("line " + i); console.error("err")';
    const handle = runProcess(node, ["-e", script], { outputTail: 1000 });
    expect(await handle.exited).toEqual({ code: 0, signal: null });
    expect(handle.stdout).toHaveLength(1000);
    expect(handle.stdout.endsWith("line 99998\nline 99999\n")).toBe(true);
    expect(handle.stderr).toBe("err\n");
  });

  it("removes an environment variable set to undefined", async () => {
    process.env.TESTKIT_UNSET_ME = "present";
    try {
      const handle = runProcess(node, ["-e", "console.log(String(process.env.TESTKIT_UNSET_ME))"], {
        env: { TESTKIT_UNSET_ME: undefined },
      });
      await handle.exited;
      expect(handle.stdout).toBe("undefined\n");
    } finally {
      delete process.env.TESTKIT_UNSET_ME;
    }
  });

  it("waits for output, then stops a process that keeps running", async () => {
    const handle = runProcess(node, [
      "-e",
      'setTimeout(() => console.log("listening on 4242"), 50); setInterval(() => {}, 1000)',
    ]);
    const match = await handle.waitForOutput(/listening on (\d+)/, 10_000);
    expect(match[1]).toBe("4242");
    expect(await handle.stop()).toEqual({ code: null, signal: "SIGTERM" });
    expect(await isRunning(handle.pid as number)).toBe(false);
  });

  it("kills with SIGKILL after the grace period when SIGTERM is ignored", async () => {
    const handle = runProcess(node, [
      "-e",
      'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)',
    ]);
    await handle.waitForOutput(/ready/);
    expect(await handle.stop(200)).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("rejects waitForOutput when the process exits first, quoting its output", async () => {
    const handle = runProcess(node, ["-e", 'console.error("bad flag"); process.exit(2)']);
    await expect(handle.waitForOutput(/ready/)).rejects.toThrow(/exited \(code 2\).*bad flag/s);
  });

  it("rejects waitForOutput on timeout", async () => {
    const handle = runProcess(node, ["-e", "setInterval(() => {}, 1000)"]);
    try {
      await expect(handle.waitForOutput(/never/, 100)).rejects.toThrow("no /never/ within 100 ms");
    } finally {
      await handle.stop();
    }
  });

  it("rejects `exited` for a command that cannot start", async () => {
    const handle = runProcess("/nonexistent/command", []);
    await expect(handle.exited).rejects.toThrow("/nonexistent/command could not start");
  });

  it("kills what it started when the parent process exits", async () => {
    // The exit hook runs only in a real process exit, so a separate Node process runs the built runProcess.
    const built = fileURLToPath(new URL("../dist/runProcess.js", import.meta.url));
    const script = `
      const { runProcess } = await import(${JSON.stringify(built)});
      const child = runProcess(process.execPath, ["-e", "console.log('up'); setInterval(() => {}, 1000)"]);
      await child.waitForOutput(/up/);
      console.log("child " + child.pid);
      process.exit(0);
    `;
    const parent = runProcess(node, ["--input-type=module", "-e", script]);
    expect(await parent.exited).toEqual({ code: 0, signal: null });
    const pid = Number(parent.stdout.match(/child (\d+)/)?.[1]);
    expect(pid).toBeGreaterThan(0);
    for (let i = 0; i < 50 && (await isRunning(pid)); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await isRunning(pid)).toBe(false);
  });
});
