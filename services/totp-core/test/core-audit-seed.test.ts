import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { RegisterSeedRequest, TotpServiceClient } from "@totp-custody/contract";
import { newSecret } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, mtlsCredentials, startCoreFixture } from "./grpcHarness.js";

/** A seed pasted where something else goes, in every way the request lets a caller do it. */
describe("a seed pasted into a field that is not a seed field", () => {
  let dir: string;
  let auditFile: string;
  let fx: CoreFixture;
  let raw: TotpServiceClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "core-audit-seed-"));
    auditFile = join(dir, "audit.log");
    fx = await startCoreFixture("file", { TOTP_AUDIT_FILE: auditFile });
    raw = new TotpServiceClient(fx.core.address, mtlsCredentials(fx, "admin"));
  });
  afterAll(async () => {
    raw?.close();
    await fx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = (label: string, seed: string, requestId?: string) =>
    new Promise<ServiceError | null>((resolve) => {
      const metadata = new Metadata();
      if (requestId) metadata.set("x-request-id", requestId);
      raw.registerSeed(
        RegisterSeedRequest.fromPartial({ label, otpauthUri: `otpauth://totp/x?secret=${seed}` }),
        metadata,
        (err) => resolve(err),
      );
    });

  it("appears in no file: as the label (as sent, or lower-cased so that it is a valid label) or the request id", async () => {
    const seeds = [newSecret(), newSecret(), newSecret()];
    const [asSent, lowered, asRequestId] = seeds as [string, string, string];
    // `totpctl add "$SEED" "$SEED"`: refused, as the label is not one.
    expect((await register(asSent, asSent))?.message).toMatch(/label/);
    // Lower-cased, a seed is a valid label name: the call is served, and the line still must not show it.
    expect(await register(lowered.toLowerCase(), lowered)).toBeNull();
    expect(await register("fine", asRequestId, asRequestId)).toBeNull();

    const everything = readFileSync(auditFile, "utf8") + fx.core.process.stdout + fx.core.process.stderr;
    const lines = readFileSync(auditFile, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    for (const seed of seeds) {
      expect(everything).not.toContain(seed);
      expect(everything.toLowerCase()).not.toContain(seed.toLowerCase());
    }
    // What the lines say instead: how long the value was, and a fingerprint to tell repeats apart.
    const records = lines.map((line) => JSON.parse(line));
    expect(records[1].label).toEqual({ length: lowered.length, fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(records[2].requestId).toEqual({
      length: asRequestId.length,
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });
});
