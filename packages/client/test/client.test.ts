import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  expectedCode,
  freePort,
  makeTestPki,
  newSecret,
  type PersistentVault,
  type RunningCore,
  startTotpCore,
  startVault,
  type TestPki,
  type Vault,
} from "@totp-custody/testkit";
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

/**
 * The outcomes of the calls to `method` the core audited in `file` (TOTP_AUDIT_FILE), in order: one per call that
 * reached it, so one per attempt. A call's own line is the last of its request id: ImportSeeds writes a line per
 * entry before it. The core writes a call's line before it answers.
 */
async function auditedOutcomes(file: string, method: string): Promise<string[]> {
  const text = await readFile(file, "utf8");
  const byRequest = new Map<string, string>();
  for (const line of text.split("\n").filter(Boolean)) {
    const record = JSON.parse(line) as { method: string; outcome: string; requestId: string };
    if (record.method !== method) continue;
    // Deleted first, so that the map keeps the order of each call's last line.
    byRequest.delete(record.requestId);
    byRequest.set(record.requestId, record.outcome);
  }
  return [...byRequest.values()];
}

/**
 * An otpauth-migration:// export (Google Authenticator's) of one TOTP account: a MigrationPayload holding one
 * OtpParameters (field 1: secret 1, name 2, type 6 = TOTP) and version 1 (field 2), in protobuf wire format.
 */
function migrationUri(name: string): string {
  const secret = randomBytes(20);
  const nameBytes = Buffer.from(name);
  const otp = Buffer.concat([
    Buffer.from([0x0a, secret.length]),
    secret,
    Buffer.from([0x12, nameBytes.length]),
    nameBytes,
    Buffer.from([0x30, 0x02]),
  ]);
  const payload = Buffer.concat([Buffer.from([0x0a, otp.length]), otp, Buffer.from([0x10, 0x01])]);
  return `otpauth-migration://offline?data=${encodeURIComponent(payload.toString("base64"))}`;
}

const otpauthUri = () => `otpauth://totp/x?secret=${newSecret()}`;

describe("the client SDK", () => {
  let pki: TestPki;
  let core: RunningCore | undefined;
  /** Audit files of the cores the tests start. */
  let dir: string;
  beforeAll(async () => {
    pki = await makeTestPki(["app"]);
    dir = await mkdtemp(join(tmpdir(), "client-test-"));
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
    await rm(dir, { recursive: true, force: true });
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

  it("retries a write that could not reach the core until the core comes up, and makes it once", async () => {
    const port = await freePort();
    const auditFile = join(dir, "late-core.audit.log");
    const client = appClient(`127.0.0.1:${port}`, { maxAttempts: 30, backoffMs: 200 });
    // Sent while nothing listens on the port: the attempts fail before a connection exists.
    const registration = client.registerSeed({ label: "early", otpauthUri: otpauthUri() });
    const late = await startTotpCore({
      pki,
      policy: POLICY,
      env: { TOTP_LISTEN: `127.0.0.1:${port}`, TOTP_AUDIT_FILE: auditFile },
    });
    try {
      await expect(registration).resolves.toMatchObject({ info: { label: "early" } });
      expect(await auditedOutcomes(auditFile, "RegisterSeed")).toEqual(["ok"]);
    } finally {
      client.close();
      await late.stop();
    }
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

  it("fills a partial nested spec, as plain JavaScript sends it, with proto3 defaults", async () => {
    if (!core) throw new Error("the first test starts the core");
    const client = createTotpClient({ ...core.clientOptions("app"), maxAttempts: 1 });
    const secret = newSecret();
    // Through JSON, as from JavaScript: nothing but the fields the caller wrote.
    const fromJs = (request: object) => JSON.parse(JSON.stringify(request));
    const { info } = await client.registerSeed(fromJs({ label: "partial-spec", spec: { secretBase32: secret } }));
    expect(info).toMatchObject({ label: "partial-spec", digits: 6, period: 30 });
    const answer = await client.generateCode({ label: "partial-spec" });
    expect(answer.code).toBe(expectedCode(secret, answer.serverTime?.getTime() ?? 0, {}));
    const err = await client
      .registerSeed(fromJs({ label: "partial-bad", spec: { secretBase32: secret, digits: 7 } }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((err as Error).message).toMatch(/digits/);
    client.close();
  });

  it("asks the core's health over its own mTLS channel, and fails when nothing answers", async () => {
    if (!core) throw new Error("the first test starts the core");
    const client = createTotpClient({ ...core.clientOptions("app"), maxAttempts: 1 });
    await expect(client.checkHealth()).resolves.toBe("SERVING");
    client.close();
    const nobody = appClient(`127.0.0.1:${await freePort()}`, { deadlineMs: 2000 });
    await expect(nobody.checkHealth()).rejects.toMatchObject({ code: status.UNAVAILABLE });
    nobody.close();
  });

  it("takes its options from TOTP_ADDR and the TOTP_TLS_* files, checked now, and names a missing or wrong one", () => {
    const app = pki.clients.app;
    if (!app) throw new Error("no app certificate");
    const env = {
      TOTP_ADDR: "127.0.0.1:1",
      TOTP_TLS_CA: pki.caPath,
      TOTP_TLS_CERT: app.certPath,
      TOTP_TLS_KEY: app.keyPath,
    };
    expect(clientOptionsFromEnv(env)).toEqual({
      address: "127.0.0.1:1",
      caFile: pki.caPath,
      certFile: app.certPath,
      keyFile: app.keyPath,
      serverName: undefined,
    });
    expect(() => clientOptionsFromEnv({ ...env, TOTP_ADDR: undefined })).toThrow(/^TOTP_ADDR: required/);
    expect(() => clientOptionsFromEnv({ ...env, TOTP_TLS_KEY: undefined })).toThrow(/^TOTP_TLS_KEY: required/);
    const missing = join(pki.dir, "missing.pem");
    expect(() => clientOptionsFromEnv({ ...env, TOTP_TLS_CA: missing })).toThrow(/^TOTP_TLS_CA: cannot read .*ENOENT/);
    expect(() => clientOptionsFromEnv({ ...env, TOTP_TLS_CERT: app.keyPath })).toThrow(/^TOTP_TLS_CERT: .* no valid/);
  });

  describe("on a core whose Vault is down, so that it answers UNAVAILABLE itself", () => {
    let vault: Vault & PersistentVault;
    let vaultCore: RunningCore;
    const auditFile = () => join(dir, "vault-core.audit.log");
    const MAX_ATTEMPTS = 3;
    const unavailable = (times: number) => Array<string>(times).fill("UNAVAILABLE");

    beforeAll(async () => {
      vault = await startVault({ persistent: true });
      await vault.enableKv("secret");
      vaultCore = await startTotpCore({
        pki,
        policy: POLICY,
        env: {
          TOTP_STORE: "vault-kv",
          VAULT_ADDR: vault.addr,
          VAULT_TOKEN: vault.token,
          // Every code reads Vault, so the outage shows on GenerateCode too, not only once a cache entry expires.
          TOTP_CACHE_TTL_MS: "0",
          TOTP_AUDIT_FILE: auditFile(),
        },
      });
      const client = appClient(vaultCore.address, { maxAttempts: 1 });
      await client.registerSeed({ label: "stored", otpauthUri: otpauthUri() });
      client.close();
      await vault.halt();
    });
    afterAll(async () => {
      await vaultCore?.stop();
      await vault?.stop();
    });

    it("gives up after maxAttempts and reports the gRPC status", async () => {
      const client = appClient(vaultCore.address, { maxAttempts: MAX_ATTEMPTS, backoffMs: 10 });
      const err = await client.listLabels().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TotpClientError);
      expect(err).toMatchObject({ code: status.UNAVAILABLE, codeName: "UNAVAILABLE" });
      expect(await auditedOutcomes(auditFile(), "ListLabels")).toEqual(unavailable(MAX_ATTEMPTS));
      client.close();
    });

    it("repeats a read the core answered UNAVAILABLE, but not a write, which the core may have applied", async () => {
      const client = appClient(vaultCore.address, { maxAttempts: MAX_ATTEMPTS, backoffMs: 10 });
      const calls = [
        () => client.generateCode({ label: "stored" }),
        () => client.registerSeed({ label: "while-down", otpauthUri: otpauthUri() }),
        () => client.deleteSeed({ label: "stored" }),
        () => client.importSeeds({ uri: migrationUri("imported") }),
      ];
      for (const call of calls) await expect(call()).rejects.toMatchObject({ code: status.UNAVAILABLE });
      expect(await auditedOutcomes(auditFile(), "GenerateCode")).toEqual(unavailable(MAX_ATTEMPTS));
      // The registration of "stored" before the outage, then the one attempt of "while-down".
      expect(await auditedOutcomes(auditFile(), "RegisterSeed")).toEqual(["ok", "UNAVAILABLE"]);
      expect(await auditedOutcomes(auditFile(), "DeleteSeed")).toEqual(unavailable(1));
      expect(await auditedOutcomes(auditFile(), "ImportSeeds")).toEqual(unavailable(1));
      client.close();
    });
  });
});
