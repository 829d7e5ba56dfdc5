import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../src/ops/AuditLog.js";

const cli = join(dirname(fileURLToPath(import.meta.url)), "../dist/bin/audit-verify.js");

/** Runs the built CLI; `stdin` is piped in when given. */
function run(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cli, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
    child.stdin?.end(stdin ?? "");
  });
}

describe("totp-audit-verify", () => {
  let dir: string;
  let good: string;
  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npx tsc -b\` (npm test builds it first)`);
    dir = mkdtempSync(join(tmpdir(), "audit-cli-"));
    good = join(dir, "audit.log");
    const log = AuditLog.toFile(good);
    for (let i = 0; i < 5; i++) {
      await log.record({
        requestId: `r${i}`,
        client: "CN=cli",
        principal: "alice",
        method: "ListLabels",
        outcome: "ok",
        status: 0,
        latencyMs: 1,
      });
    }
    await log.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reports a good file and exits 0", async () => {
    expect(await run([good])).toMatchObject({ code: 0, stdout: "ok: 5 lines\n" });
  });

  it("reads stdin, and names the broken line with exit 1", async () => {
    const lines = readFileSync(good, "utf8").split("\n");
    lines[2] = (lines[2] as string).replace('"principal":"alice"', '"principal":"mallory"');
    const result = await run([], lines.join("\n"));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^broken at line 3: /);
  });

  it("handles a last line without a newline and lines split across reads", async () => {
    const text = readFileSync(good, "utf8").trimEnd();
    const big = join(dir, "big.log");
    // A long service-log line makes the audit lines straddle the stream's chunk boundaries.
    writeFileSync(big, `{"msg":"${"x".repeat(100_000)}"}\n${text}`);
    expect(await run([big])).toMatchObject({ code: 0, stdout: "ok: 5 lines\n" });
  });

  it("runs as the README documents it, `npx totp-audit-verify <file>` from the root of the checkout", async () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
    // --offline: a bin that was not linked must fail here, not be fetched from the registry.
    const result = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile("npx", ["--offline", "totp-audit-verify", good], { cwd: root }, (err, stdout) =>
        resolve({ code: err ? Number(err.code) : 0, stdout }),
      ),
    );
    expect(result).toEqual({ code: 0, stdout: "ok: 5 lines\n" });
  });

  it("exits 2 when the file cannot be read", async () => {
    const result = await run([join(dir, "missing.log")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read .*missing\.log/);
  });
});
