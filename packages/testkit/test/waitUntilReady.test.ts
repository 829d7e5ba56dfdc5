import { describe, expect, it } from "vitest";
import { runProcess } from "../src/index.js";
import { waitUntilReady } from "../src/waitUntilReady.js";
import { withFreePorts } from "../src/withFreePorts.js";

const node = process.execPath;

describe("waitUntilReady", () => {
  it("resolves once the probe holds", async () => {
    const handle = runProcess(node, ["-e", "setTimeout(() => {}, 60_000)"]);
    let probes = 0;
    await waitUntilReady(handle, { what: "sleeper", timeoutMs: 30_000 }, async () => ++probes >= 3 || "not yet");
    expect(probes).toBe(3);
    await handle.stop();
  });

  it("names a server that exits, quotes its output, and cuts out the secrets", async () => {
    const script = 'console.log("token s3cr3t-value"); console.error("Root Token: made-by-server"); process.exit(4)';
    const handle = runProcess(node, ["-e", script]);
    const waiting = waitUntilReady(
      handle,
      {
        what: "the server",
        timeoutMs: 30_000,
        secrets: ["s3cr3t-value"],
        redact: (output) => output.replace(/^Root Token: .*$/m, "Root Token: <redacted>"),
      },
      async () => "refused",
    );
    const err = await waiting.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^the server exited \(refused\):\n/);
    expect(err?.message).toContain("token <redacted>");
    expect(err?.message).toContain("Root Token: <redacted>");
    expect(err?.message).not.toMatch(/s3cr3t-value|made-by-server/);
  });

  it("stops a server that never gets ready within the time given", async () => {
    const handle = runProcess(node, ["-e", "setTimeout(() => {}, 60_000)"]);
    await expect(waitUntilReady(handle, { what: "sleeper", timeoutMs: 300 }, async () => "starting")).rejects.toThrow(
      /^sleeper did not get ready within 300 ms \(starting\)/,
    );
    expect((await handle.exited).signal).not.toBeNull();
  });
});

describe("withFreePorts", () => {
  it("gives distinct ports, and tries new ones when a port was taken in between", async () => {
    const seen: number[][] = [];
    const result = await withFreePorts(2, async (ports) => {
      seen.push(ports);
      if (seen.length === 1) throw new Error("listen EADDRINUSE: address already in use 127.0.0.1:1");
      return "started";
    });
    expect(result).toBe("started");
    expect(seen).toHaveLength(2);
    for (const ports of seen) expect(new Set(ports).size).toBe(2);
  });

  it("passes any other failure on at once", async () => {
    let calls = 0;
    await expect(
      withFreePorts(1, async () => {
        calls++;
        throw new Error("bad flag");
      }),
    ).rejects.toThrow("bad flag");
    expect(calls).toBe(1);
  });
});
