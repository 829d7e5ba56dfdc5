import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectedCode, migrationUri, newSecret } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, startCoreFixture } from "./grpcHarness.js";

describe("the audit log of ImportSeeds", () => {
  let dir: string;
  let auditFile: string;
  let fx: CoreFixture;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "core-audit-import-"));
    auditFile = join(dir, "audit.log");
    fx = await startCoreFixture("file", { TOTP_AUDIT_FILE: auditFile });
  });
  afterAll(async () => {
    await fx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("has a line per label the import wrote or refused, so who changed a team label is in the log", async () => {
    const admin = fx.client("admin");
    const [original, replacement, fresh, hotp] = [newSecret(), newSecret(), newSecret(), newSecret()];
    await admin.registerSeed({ label: "team-aws", otpauthUri: `otpauth://totp/x?secret=${original}` });
    await admin.registerSeed({ label: "kept", otpauthUri: `otpauth://totp/x?secret=${original}` });
    // labelFromEntry gives "<prefix><issuer>-<account>": an empty prefix and issuer "team" make "team-aws".
    const uri = migrationUri([
      { secret: replacement, name: "aws", issuer: "team", type: 2 },
      { secret: fresh, name: "new", issuer: "also", type: 2 },
      { secret: hotp, name: "counter", issuer: "old", type: 1 },
    ]);
    const result = await admin.importSeeds({ uri, overwrite: true });
    expect(result.imported.map((i) => i.label)).toEqual(["team-aws", "also-new"]);
    // The team seed was replaced: its code is now the replacement's.
    const { code } = await admin.generateCode({ label: "team-aws" });
    const now = Date.now();
    expect([-30_000, 0, 30_000].map((d) => expectedCode(replacement, now + d))).toContain(code);

    const lines = readFileSync(auditFile, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    const ofImport = lines.filter((l) => l.method === "ImportSeeds");
    expect(ofImport.map((l) => [l.principal, l.label, l.outcome])).toEqual([
      ["service:admin", "team-aws", "ok"],
      ["service:admin", "also-new", "ok"],
      // The HOTP entry, refused before it had a label.
      ["service:admin", null, "INVALID_ARGUMENT"],
      // The call itself, after its entries.
      ["service:admin", null, "ok"],
    ]);
    // All of one call: its request id ties them together.
    expect(new Set(ofImport.map((l) => l.requestId)).size).toBe(1);
  });
});
