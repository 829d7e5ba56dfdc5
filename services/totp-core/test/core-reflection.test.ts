import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { status } from "@grpc/grpc-js";
import { toolPath } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, listServicesByReflection, mtlsCredentials, startCoreFixture } from "./grpcHarness.js";

/** `grpcurl list` over mTLS: a reflection client none of our code wrote. Never throws; the exit code is kept. */
async function grpcurlList(fx: CoreFixture): Promise<{ code: number; output: string }> {
  const cert = fx.pki.clients.admin;
  if (!cert) throw new Error("the test PKI has no admin certificate");
  const args = ["-cacert", fx.pki.caPath, "-cert", cert.certPath, "-key", cert.keyPath, fx.core.address, "list"];
  try {
    const { stdout, stderr } = await promisify(execFile)(toolPath("grpcurl"), args, { timeout: 30_000 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("server reflection", () => {
  let on: CoreFixture;
  let off: CoreFixture;
  beforeAll(async () => {
    [on, off] = await Promise.all([
      startCoreFixture("file", { TOTP_REFLECTION: "true" }),
      // Unset is the default an operator gets; it must mean off.
      startCoreFixture("file"),
    ]);
  });
  afterAll(async () => {
    await Promise.all([on?.close(), off?.close()]);
  });

  it("lists totp.v1.TotpService to grpcurl over mTLS when TOTP_REFLECTION=true", async () => {
    const { code, output } = await grpcurlList(on);
    expect(code).toBe(0);
    expect(output.split("\n")).toContain("totp.v1.TotpService");
  });

  it("answers UNIMPLEMENTED to a reflection call when reflection is not enabled", async () => {
    expect(await listServicesByReflection(off.core.address, mtlsCredentials(off, "admin"))).toMatchObject({
      code: status.UNIMPLEMENTED,
    });
    // grpcurl tries reflection v1 and then v1alpha; both unimplemented is what it reports this way.
    const { code, output } = await grpcurlList(off);
    expect(code).not.toBe(0);
    expect(output).toMatch(/does not support the reflection API/);
    expect(output).not.toContain("totp.v1.TotpService");
  });
});
