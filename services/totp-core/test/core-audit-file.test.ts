import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { newSecret } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, eventually, startCoreFixture } from "./grpcHarness.js";

const verifyCli = join(dirname(fileURLToPath(import.meta.url)), "../dist/bin/audit-verify.js");

function verify(stdin: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [verifyCli], (err, stdout) =>
      resolve({ code: err ? Number(err.code) : 0, stdout }),
    );
    child.stdin?.end(stdin);
  });
}

const auditLines = (file: string) =>
  readFileSync(file, "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as { method: string; label: string | null; outcome: string });

describe("TOTP_AUDIT_FILE removed or replaced while the core runs", () => {
  let dir: string;
  let auditFile: string;
  let fx: CoreFixture;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "core-audit-file-"));
    auditFile = join(dir, "audit.log");
    fx = await startCoreFixture("file", { TOTP_AUDIT_FILE: auditFile });
  });
  afterAll(async () => {
    await fx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lands the next lines in a new file at the path, and says so, when the file was deleted", async () => {
    const admin = fx.client("admin");
    await admin.listLabels({});
    rmSync(auditFile);
    for (let i = 0; i < 5; i++) {
      await admin.registerSeed({ label: `after-rm-${i}`, otpauthUri: `otpauth://totp/x?secret=${newSecret()}` });
    }
    // Each answered call's line is in a file at the path, not in the unlinked inode.
    expect(existsSync(auditFile)).toBe(true);
    expect(auditLines(auditFile).map((l) => [l.method, l.label, l.outcome])).toEqual(
      Array.from({ length: 5 }, (_, i) => ["RegisterSeed", `after-rm-${i}`, "ok"]),
    );
    await eventually(
      () => fx.core.process.stdout.includes("audit file was removed or replaced"),
      "the reopen reported in the service log",
    );
    // The new file alone shows that lines before it are missing.
    expect((await verify(readFileSync(auditFile, "utf8"))).code).toBe(1);
  });

  it("follows a rename without SIGHUP (a logrotate without postrotate): the chain goes on in the new file", async () => {
    const admin = fx.client("admin");
    const rotated = `${auditFile}.1`;
    renameSync(auditFile, rotated);
    await admin.listLabels({});
    await admin.listLabels({});
    expect(auditLines(auditFile).map((l) => l.method)).toEqual(["ListLabels", "ListLabels"]);
    // Nothing went to the renamed file after the rename.
    expect(auditLines(rotated)).toHaveLength(5);
  });
});
