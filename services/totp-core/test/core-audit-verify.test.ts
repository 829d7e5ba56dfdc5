import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { status } from "@grpc/grpc-js";
import { newSecret } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLineHash, HASH_FIELD } from "../src/ops/AuditLog.js";
import { startCoreFixture } from "./grpcHarness.js";

const verifyCli = join(dirname(fileURLToPath(import.meta.url)), "../dist/bin/audit-verify.js");

function verify(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [verifyCli, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

/**
 * What someone who can write the file but has no key can do: re-serialise a line with a new prev and seq and
 * redo its hash, as the unkeyed chain allows.
 */
function rehashed(line: string, prev: string, seq: number): string {
  const record = JSON.parse(line);
  const content = JSON.stringify({ ...record, prev, seq, hash: undefined }).slice(0, -1);
  return `${content},"hash":"${auditLineHash(content, undefined)}"}`;
}
const hashOf = (line: string) => HASH_FIELD.exec(line)?.[1] as string;

describe("totp-audit-verify on two runs of a keyed totp-core", () => {
  let dir: string;
  let auditFile: string;
  let keyFile: string;
  let lines: string[];
  /** The head the second run logged as it stopped: what an operator anchors off the host. */
  let head: string;
  const write = (name: string, content: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${content.join("\n")}\n`);
    return path;
  };
  const keyed = (file: string, ...more: string[]) => verify(["--key-file", keyFile, ...more, file]);

  beforeAll(async () => {
    if (!existsSync(verifyCli)) throw new Error(`${verifyCli} is missing: run \`npx tsc -b\``);
    dir = mkdtempSync(join(tmpdir(), "core-audit-verify-"));
    auditFile = join(dir, "audit.log");
    keyFile = join(dir, "audit.key");
    writeFileSync(keyFile, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
    for (let run = 0; run < 2; run++) {
      const fx = await startCoreFixture("file", { TOTP_AUDIT_FILE: auditFile, TOTP_AUDIT_KEY_FILE: keyFile });
      try {
        const admin = fx.client("admin");
        await admin.listLabels({});
        await admin.registerSeed({ label: `run-${run}`, otpauthUri: `otpauth://totp/x?secret=${newSecret()}` });
        await admin.generateCode({ label: `run-${run}` });
        for (let i = 0; i < 2; i++) {
          await expect(admin.generateCode({ label: "missing" })).rejects.toMatchObject({ code: status.NOT_FOUND });
        }
      } finally {
        await fx.close();
      }
      const logged = fx.core.process.stdout.split("\n").filter((l) => l.includes('"msg":"audit head"'));
      head = JSON.parse(logged.at(-1) as string).auditHead;
    }
    lines = readFileSync(auditFile, "utf8").trimEnd().split("\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts the untouched file, the second run linked to the first, and the anchored head", async () => {
    expect(lines).toHaveLength(10);
    const second = JSON.parse(lines[5] as string);
    expect(second).toMatchObject({ seq: 1, start: true, prev: hashOf(lines[4] as string) });
    expect(await keyed(auditFile)).toMatchObject({ code: 0, stdout: "ok: 10 lines\n" });
    expect(await keyed(auditFile, "--head", head)).toMatchObject({ code: 0, stdout: "ok: 10 lines\n" });
    expect(hashOf(lines[9] as string)).toBe(head);
  });

  it("rejects the last line edited", async () => {
    const edited = [...lines];
    edited[9] = (lines[9] as string).replace('"outcome":"NOT_FOUND","status":5', '"outcome":"ok","status":0');
    expect(edited[9]).not.toBe(lines[9]);
    expect(await keyed(write("last-edited.log", edited))).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^broken at line 10: the line was altered/),
    });
  });

  it("rejects the first run's last two lines deleted, the second run's start following", async () => {
    const result = await keyed(write("tail-cut.log", [...lines.slice(0, 3), ...lines.slice(5)]));
    expect(result).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^broken at line 4: this run does not follow/),
    });
  });

  it("rejects the whole first run deleted", async () => {
    const result = await keyed(write("run-deleted.log", lines.slice(5)));
    expect(result).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^broken at line 1: this run follows a line/),
    });
  });

  it("rejects a middle line deleted with seq and prev redone, which only the key can tell", async () => {
    // Line 3 deleted; line 4 and 5 re-chained onto line 2 as an unkeyed chain would allow.
    const line4 = rehashed(lines[3] as string, hashOf(lines[1] as string), 3);
    const line5 = rehashed(lines[4] as string, hashOf(line4), 4);
    const forged = write("forged.log", [lines[0] as string, lines[1] as string, line4, line5]);
    expect(await keyed(forged)).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^broken at line 3: the line was altered/),
    });
    // Without the key a keyed log cannot be checked at all, and the verifier says so rather than pass it.
    const unkeyed = await verify([forged]);
    expect(unkeyed.stdout).toMatch(/^broken at line 1: the line was altered \(or the log is keyed/);
  });

  it("shows a cut tail only against the anchored head", async () => {
    const cut = write("cut.log", lines.slice(0, 9));
    expect(await keyed(cut)).toMatchObject({ code: 0 });
    expect(await keyed(cut, "--head", head)).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/no line has the anchored head/),
    });
  });

  it("exits 2, not 1, when it cannot run", async () => {
    expect(await verify(["--key-file", join(dir, "no-such.key"), auditFile])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^totp-audit-verify: cannot run: --key-file/),
    });
    const short = write("short.key", ["too short"]);
    expect((await verify(["--key-file", short, auditFile])).code).toBe(2);
    expect((await verify(["--head", "nothex", auditFile])).code).toBe(2);
    expect((await verify(["--bogus"])).code).toBe(2);
    expect((await keyed(join(dir, "missing.log"))).code).toBe(2);
  });
});
