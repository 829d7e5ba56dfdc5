import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { TotpServiceClient } from "@totp-custody/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  announcedPorts,
  type CoreFixture,
  checkHealth,
  listServicesByReflection,
  mtlsCredentials,
  startCoreFixture,
} from "./grpcHarness.js";

const insecure = () => credentials.createInsecure();

describe("health: grpc.health.v1 on the mTLS port and on the plaintext probe port", () => {
  let fx: CoreFixture;
  let probeAddress: string;

  beforeAll(async () => {
    // Reflection on: the probe port must not serve it even when the mTLS port does.
    fx = await startCoreFixture("file", { TOTP_HEALTH_LISTEN: "127.0.0.1:0", TOTP_REFLECTION: "true" });
    probeAddress = `127.0.0.1:${announcedPorts(fx.core).health}`;
  });
  afterAll(() => fx.close());

  it("answers SERVING on the mTLS port, for the server and for TotpService, to a client with a certificate", async () => {
    const channel = mtlsCredentials(fx, "admin");
    expect(await checkHealth(fx.core.address, channel)).toBe("SERVING");
    expect(await checkHealth(fx.core.address, channel, "totp.v1.TotpService")).toBe("SERVING");
    expect(await checkHealth(fx.core.address, channel, "no.such.Service")).toMatchObject({ code: status.NOT_FOUND });
  });

  it("does not answer on the mTLS port without a client certificate", async () => {
    const noCert = credentials.createSsl(Buffer.from(fx.pki.ca.certPem));
    expect(await checkHealth(fx.core.address, noCert)).toMatchObject({ code: status.UNAVAILABLE });
  });

  it("answers SERVING on the plaintext port without any certificate", async () => {
    expect(await checkHealth(probeAddress, insecure())).toBe("SERVING");
    expect(await checkHealth(probeAddress, insecure(), "totp.v1.TotpService")).toBe("SERVING");
  });

  it("serves nothing but health on the plaintext port", async () => {
    const client = new TotpServiceClient(probeAddress, insecure());
    const err = await new Promise<ServiceError | null>((resolve) =>
      client.listLabels({ onBehalfOf: "", pageSize: 0, pageToken: "" }, (e) => resolve(e)),
    );
    client.close();
    expect(err?.code).toBe(status.UNIMPLEMENTED);

    expect(await listServicesByReflection(probeAddress, insecure())).toMatchObject({ code: status.UNIMPLEMENTED });
    // The same reflection call works on the mTLS port, so the refusal above is the probe port's, not reflection's.
    expect(await listServicesByReflection(fx.core.address, mtlsCredentials(fx, "admin"))).toContain(
      "totp.v1.TotpService",
    );
  });
});
