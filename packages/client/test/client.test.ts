import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { freePort, makeTestPki, type RunningCore, startTotpCore, type TestPki } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clientOptionsFromEnv,
  createTotpClient,
  status,
  TotpClientError,
  type TotpClientOptions,
} from "../src/index.js";

const POLICY = `
clients:
  spiffe://totp.internal/app: { principal: service:app }
selfService: true
`;

describe("the client SDK", () => {
  let pki: TestPki;
  let core: RunningCore | undefined;
  beforeAll(async () => {
    pki = await makeTestPki(["app"]);
  });
  /** A client with the app certificate, aimed at `address`. */
  const appClient = (address: string, options: Partial<TotpClientOptions> = {}) =>
    createTotpClient({
      address,
      ca: pki.ca.certPem,
      cert: pki.clients.app?.certPem ?? "",
      key: pki.clients.app?.keyPem ?? "",
      ...options,
    });
  afterAll(async () => {
    await core?.stop();
    await pki.cleanup();
  });

  it("retries UNAVAILABLE with backoff until the core comes up", async () => {
    const port = await freePort();
    const client = appClient(`127.0.0.1:${port}`, {
      maxAttempts: 30,
      backoffMs: 200,
    });
    const listing = client.listLabels();
    core = await startTotpCore({ pki, policy: POLICY, env: { TOTP_LISTEN: `127.0.0.1:${port}` } });
    await expect(listing).resolves.toEqual({ labels: [], nextPageToken: "" });
    client.close();
  });

  it("gives up after maxAttempts and reports the gRPC status", async () => {
    const client = appClient(`127.0.0.1:${await freePort()}`, {
      maxAttempts: 2,
      backoffMs: 10,
    });
    const err = await client.listLabels().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TotpClientError);
    expect(err).toMatchObject({ code: status.UNAVAILABLE, codeName: "UNAVAILABLE" });
    client.close();
  });

  it("puts a deadline on every call", async () => {
    // A peer that accepts connections and never answers: only the deadline ends the call.
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const client = appClient(`127.0.0.1:${port}`, {
      deadlineMs: 300,
      maxAttempts: 1,
    });
    const err = await client.generateCode({ label: "x" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    client.close();
    silent.close();
  });

  it("carries the core's message and status on refusals", async () => {
    if (!core) throw new Error("the first test starts the core");
    const client = createTotpClient({ ...core.clientOptions("app"), maxAttempts: 1 });
    const err = await client.generateCode({ label: "Bad Label" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, codeName: "INVALID_ARGUMENT" });
    expect((err as Error).message).toMatch(/^label /);
    client.close();
  });

  it("reads its options from TOTP_ADDR and TOTP_TLS_* and names a missing one", () => {
    const app = pki.clients.app;
    if (!app) throw new Error("no app certificate");
    const env = {
      TOTP_ADDR: "127.0.0.1:1",
      TOTP_TLS_CA: pki.caPath,
      TOTP_TLS_CERT: app.certPath,
      TOTP_TLS_KEY: app.keyPath,
    };
    const options = clientOptionsFromEnv(env);
    expect(options.address).toBe("127.0.0.1:1");
    expect(options.cert.toString()).toBe(app.certPem);
    expect(() => clientOptionsFromEnv({ ...env, TOTP_ADDR: undefined })).toThrow(/TOTP_ADDR is not set/);
    expect(() => clientOptionsFromEnv({ ...env, TOTP_TLS_KEY: undefined })).toThrow(/TOTP_TLS_KEY is not set/);
    const missing = join(pki.dir, "missing.pem");
    expect(() => clientOptionsFromEnv({ ...env, TOTP_TLS_CA: missing })).toThrow(/TOTP_TLS_CA: cannot read .*ENOENT/);
  });
});
