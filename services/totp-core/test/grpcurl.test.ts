import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { protoRoot } from "@totp-custody/contract";
import { toolPath } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, startCoreFixture } from "./grpcHarness.js";

const run = promisify(execFile);

/** grpcurl, a client none of our code wrote, reading only the .proto files and the certificates. */
async function grpcurl(fx: CoreFixture, client: string, method: string, body: unknown) {
  const cert = fx.pki.clients[client];
  if (!cert) throw new Error(`no certificate for ${client}`);
  const args = [
    ...["-cacert", fx.pki.caPath, "-cert", cert.certPath, "-key", cert.keyPath],
    ...["-import-path", protoRoot, "-proto", "totp/v1/totp.proto", "-format-error"],
    ...["-d", JSON.stringify(body), fx.core.address, `totp.v1.TotpService/${method}`],
  ];
  try {
    const { stdout } = await run(toolPath("grpcurl"), args);
    return { ok: true as const, json: JSON.parse(stdout) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false as const, json: JSON.parse(e.stdout || e.stderr || "{}") };
  }
}

describe("grpcurl over mTLS", () => {
  let fx: CoreFixture;
  beforeAll(async () => {
    fx = await startCoreFixture("vault-kv");
  });
  afterAll(() => fx.close());

  it("registers an otpauth seed and gets its code", async () => {
    const secret = new OTPAuth.Secret({ size: 20 }).base32;
    const registered = await grpcurl(fx, "admin", "RegisterSeed", {
      label: "grpcurl-demo",
      otpauthUri: `otpauth://totp/Demo:alice?secret=${secret}&issuer=Demo`,
    });
    expect(registered).toMatchObject({
      ok: true,
      json: { info: { label: "grpcurl-demo", issuer: "Demo", account: "alice", algorithm: "ALGORITHM_SHA1" } },
    });

    const answer = await grpcurl(fx, "admin", "GenerateCode", { label: "grpcurl-demo" });
    expect(answer.ok).toBe(true);
    const at = Date.parse(answer.json.serverTime);
    const expected = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: at });
    expect(answer.json).toMatchObject({ code: expected, digits: 6, period: 30, issuer: "Demo", account: "alice" });
    expect(Date.parse(answer.json.validUntil) - Date.parse(answer.json.validFrom)).toBe(30_000);
  });

  it("gets NOT_FOUND for an unknown label and PERMISSION_DENIED for an unknown certificate", async () => {
    expect(await grpcurl(fx, "admin", "GenerateCode", { label: "nothing-here" })).toMatchObject({
      ok: false,
      json: { code: 5 },
    });
    expect(await grpcurl(fx, "stranger", "ListLabels", {})).toMatchObject({ ok: false, json: { code: 7 } });
  });
});
