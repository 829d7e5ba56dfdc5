import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { connect, createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { makeTestPki, startVault, type TestPki, type Vault } from "@totp-custody/testkit";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../src/ops/Metrics.js";
import { codeWindow } from "../src/otp/codeWindow.js";
import { createSeedStore } from "../src/store/createSeedStore.js";
import { type VaultAuth, VaultClient, type VaultClientOptions } from "../src/vault/VaultClient.js";
import { VaultFailure } from "../src/vault/VaultFailure.js";
import { CORE_VAULT_POLICY, revokeRoleTokens } from "./grpcHarness.js";
import { rejection } from "./rejection.js";
import { newSeed, personal } from "./store-contract.js";

let vault: Vault;
let pki: TestPki;
let folder: string;
/** Every log line any client in this file wrote, to check no secret ever reaches one. */
const allLogLines: string[] = [];
/** Secrets handed out in this file: tokens, secret ids, JWTs, seeds. */
const secrets: string[] = [];

beforeAll(async () => {
  [vault, pki, folder] = await Promise.all([
    startVault(),
    makeTestPki(),
    mkdtemp(join(tmpdir(), "totp-vault-client-")),
  ]);
  await vault.writePolicy("totp-store", CORE_VAULT_POLICY);
  secrets.push(vault.token);
});

afterAll(async () => {
  // Checked last, over all tests: a token, secret id, JWT or seed in any log line is a leak.
  expect(allLogLines.length).toBeGreaterThan(0);
  for (const line of allLogLines) for (const secret of secrets) expect(line).not.toContain(secret);
  await Promise.all([vault?.stop(), pki?.cleanup(), folder && rm(folder, { recursive: true, force: true })]);
});

/** A logger whose lines a test can read: parsed JSON objects, newest last. */
function captureLog() {
  const lines: Array<{ level: number; msg: string; [key: string]: unknown }> = [];
  const write = (line: string) => {
    allLogLines.push(line);
    lines.push(JSON.parse(line));
  };
  const log = pino({ level: "debug" }, { write });
  const said = (text: string) => lines.filter((l) => l.msg.includes(text)).length;
  return { log, lines, said };
}

const options = (auth: VaultAuth, overrides: Partial<VaultClientOptions> = {}): VaultClientOptions => ({
  addr: vault.addr,
  timeoutMs: 5000,
  auth,
  ...overrides,
});

async function appRole(role: string, extra: { tokenTtl?: number; tokenMaxTtl?: number; policies?: string[] } = {}) {
  const { policies = ["totp-store"], ...ttls } = extra;
  const ids = await vault.enableAppRole({ role, policies, ...ttls });
  secrets.push(ids.secretId);
  return { method: "approle", roleId: ids.roleId, secretId: ids.secretId } as const;
}

describe("AppRole auth", () => {
  it("logs in with role and secret id, and the store works", async () => {
    const { log, said } = captureLog();
    const metrics = new Metrics();
    const store = await createSeedStore(
      { kind: "vault-kv", vault: options(await appRole("store", { tokenTtl: 600 })) },
      { log, metrics, cacheTtlMs: 0 },
    );
    const ref = personal("github");
    const seed = newSeed();
    secrets.push(seed.secret.toString("base64"));
    await store.put(ref, seed, "telegram:1", false);
    const at = Date.now();
    expect((await store.codes(ref, at))?.window.code).toBe(codeWindow(seed, at).code);
    expect(said("logged in to Vault")).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString("totp_vault_token_ttl_seconds")).toContain(
      "totp_vault_token_ttl_seconds 600",
    );
    await store.close();
  });

  it("logs in again when its token was revoked, and the next call still works", async () => {
    const { log, said } = captureLog();
    const store = await createSeedStore(
      { kind: "vault-kv", vault: options(await appRole("revoked")) },
      { log, cacheTtlMs: 0 },
    );
    const ref = personal("x");
    const seed = newSeed();
    await store.put(ref, seed, "telegram:1", false);
    expect(await revokeRoleTokens(vault, "revoked")).toBe(1);
    const at = Date.now();
    expect((await store.codes(ref, at))?.window.code).toBe(codeWindow(seed, at).code);
    expect(said("Vault refused the token; logging in again")).toBe(1);
    expect(said("logged in to Vault")).toBe(2);
    await store.close();
  });

  it("logs in once, not once per request, when many requests are refused together", async () => {
    const { log, said } = captureLog();
    const client = new VaultClient(options(await appRole("herd")), { log });
    await client.kvList("secret", "totp/users");
    await revokeRoleTokens(vault, "herd");
    await Promise.all(Array.from({ length: 50 }, () => client.kvList("secret", "totp/users")));
    expect(said("logged in to Vault")).toBe(2);
    client.close();
  });

  it("renews its token at 2/3 of the TTL, and logs in again when the max TTL stops renewals", async () => {
    const renewed = captureLog();
    const renewedTtls: number[] = [];
    const renewing = new VaultClient(options(await appRole("renewed", { tokenTtl: 3, tokenMaxTtl: 600 })), {
      log: renewed.log,
      onTokenTtl: (s) => renewedTtls.push(s),
    });
    const capped = captureLog();
    const capping = new VaultClient(options(await appRole("capped", { tokenTtl: 3, tokenMaxTtl: 4 })), {
      log: capped.log,
    });
    await Promise.all([renewing.kvList("secret", "totp"), capping.kvList("secret", "totp")]);
    expect(renewing.tokenTtlSeconds()).toBe(3);
    // Well past the first token's 3 s: only renewal (or a new login) keeps requests working.
    await new Promise((resolve) => setTimeout(resolve, 5500));
    await Promise.all([renewing.kvList("secret", "totp"), capping.kvList("secret", "totp")]);

    expect(renewedTtls.length).toBeGreaterThanOrEqual(3);
    expect(renewed.said("logged in to Vault")).toBe(1);
    expect(renewed.said("refused")).toBe(0);
    expect(capped.said("logged in to Vault")).toBeGreaterThanOrEqual(2);
    expect(capped.said("refused")).toBe(0);
    renewing.close();
    capping.close();
  });

  it("answers UNAVAILABLE and names the path when its policy does not allow a request, after one fresh login", async () => {
    const { log, lines, said } = captureLog();
    const client = new VaultClient(options(await appRole("no-rights", { policies: ["default"] })), { log });
    const err = await rejection(client.kvRead("secret", "totp/shared/x"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toBe("seed store unavailable");
    expect((err.cause as VaultFailure).status).toBe(403);
    expect(said("logged in to Vault")).toBe(2);
    expect(lines.find((l) => l.level === 50)).toMatchObject({ path: "secret/data/totp/shared/x" });
    client.close();
  });

  it("answers UNAVAILABLE and logs an error when the login itself is refused", async () => {
    const { log, lines } = captureLog();
    const wrong = { ...(await appRole("wrong")), secretId: "00000000-0000-0000-0000-000000000000" };
    const client = new VaultClient(options(wrong), { log });
    const err = await rejection(client.kvRead("secret", "totp/x"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(lines.find((l) => l.msg === "Vault login failed")?.level).toBe(50);
    client.close();
  });
});

describe("token auth", () => {
  it("uses the token as given, and reports a root token as never expiring", async () => {
    const ttls: number[] = [];
    const client = new VaultClient(options({ method: "token", token: vault.token }), {
      onTokenTtl: (s) => ttls.push(s),
    });
    await client.health();
    expect(client.tokenTtlSeconds()).toBeUndefined();
    expect(ttls).toEqual([0]);
    client.close();
  });

  it("does not retry a refused token (there is nothing to log in with) and says why", async () => {
    const { log, said } = captureLog();
    const created = await vault.request<{ auth: { client_token: string } }>("POST", "auth/token/create", {
      policies: ["default"],
      ttl: "5m",
    });
    secrets.push(created.auth.client_token);
    const client = new VaultClient(options({ method: "token", token: created.auth.client_token }), { log });
    expect((await rejection(client.kvRead("secret", "totp/x"))).code).toBe("UNAVAILABLE");
    expect(said("Vault denies this request")).toBe(1);
    expect(said("logging in again")).toBe(0);
    client.close();
  });
});

describe("timeouts and TLS", () => {
  const servers: Array<TcpServer | HttpServer> = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  const listen = async <S extends TcpServer | HttpServer>(server: S): Promise<number> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as { port: number }).port;
  };

  it("gives up on a Vault that accepts connections and never answers, within the timeout", async () => {
    const sockets: Socket[] = [];
    const port = await listen(createTcpServer((socket) => sockets.push(socket)));
    const client = new VaultClient(
      options({ method: "token", token: vault.token }, { addr: `http://127.0.0.1:${port}`, timeoutMs: 300 }),
    );
    const started = Date.now();
    const err = await rejection(client.kvRead("secret", "totp/x"));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err.code).toBe("UNAVAILABLE");
    expect((err.cause as VaultFailure).errno).toBe("ECONNABORTED");
    expect((await rejection(client.health())).code).toBe("UNAVAILABLE");
    for (const socket of sockets) socket.destroy();
    client.close();
  });

  it("talks TLS to a Vault whose certificate a private CA signed, and refuses it without that CA", async () => {
    const target = new URL(vault.addr);
    // TLS in front of the real OpenBao, with a certificate for 127.0.0.1 from the test CA.
    const proxy = createTlsServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (socket) => {
      const upstream = connect(Number(target.port), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
    });
    const port = await listen(proxy);
    const addr = `https://127.0.0.1:${port}`;
    const auth: VaultAuth = { method: "token", token: vault.token };

    const trusted = await createSeedStore({
      kind: "vault-kv",
      vault: options(auth, { addr, caCertPem: pki.ca.certPem }),
    });
    const ref = personal("tls");
    const seed = newSeed();
    await trusted.put(ref, seed, "telegram:1", false);
    const at = Date.now();
    expect((await trusted.codes(ref, at))?.window.code).toBe(codeWindow(seed, at).code);
    await trusted.ping();
    await trusted.close();

    // node-vault would honour VAULT_SKIP_VERIFY from the environment; our client must not.
    process.env.VAULT_SKIP_VERIFY = "1";
    try {
      const untrusted = new VaultClient(options(auth, { addr }));
      const err = await rejection(untrusted.health());
      expect(err.code).toBe("UNAVAILABLE");
      expect((err.cause as VaultFailure).errno).toMatch(/CERT|SIGNATURE/);
      untrusted.close();
    } finally {
      delete process.env.VAULT_SKIP_VERIFY;
    }
  });
});

/*
 * Kubernetes auth against the real OpenBao kubernetes auth method. OpenBao checks a login's JWT by sending it to
 * the Kubernetes TokenReview API at `kubernetes_host`; here that host is a stand-in HTTP server in this test, which
 * records each JWT and approves only the one the test chose. So everything up to and including OpenBao's decision
 * is real (our login request, the JWT read from the file, OpenBao's role binding checks on the claims, the token it
 * issues, our handling of its refusal); what the stand-in replaces is the API server's own verification of the JWT
 * (signature, expiry, audience, that the service account exists). That part needs a real kube-apiserver and is
 * covered with one by the Kubernetes test-cluster issue (shared/notes/kubernetes-test-cluster.md).
 */
describe("Kubernetes auth", () => {
  let reviewer: HttpServer;
  const reviewed: string[] = [];
  let approved = "";

  const serviceAccountJwt = (name: string) => {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const jwt = [
      part({ alg: "RS256", kid: "test" }),
      part({
        iss: "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "totp",
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": randomBytes(8).toString("hex"),
        sub: `system:serviceaccount:totp:${name}`,
      }),
      randomBytes(64).toString("base64url"),
    ].join(".");
    secrets.push(jwt);
    return jwt;
  };

  beforeAll(async () => {
    reviewer = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on("end", () => {
        const token = (JSON.parse(body) as { spec: { token: string } }).spec.token;
        reviewed.push(token);
        // As the API server would, name the service account the token was issued to (from its claims).
        const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<
          string,
          string
        >;
        const user = {
          username: claims.sub,
          uid: claims["kubernetes.io/serviceaccount/service-account.uid"],
          groups: ["system:serviceaccounts"],
        };
        const status = token === approved ? { authenticated: true, user } : { authenticated: false, error: "invalid" };
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", status }));
      });
    });
    await new Promise<void>((resolve) => reviewer.listen(0, "127.0.0.1", resolve));
    const port = (reviewer.address() as { port: number }).port;
    await vault.request("POST", "sys/auth/kubernetes", { type: "kubernetes" });
    await vault.request("POST", "auth/kubernetes/config", {
      kubernetes_host: `http://127.0.0.1:${port}`,
      // Required with disable_local_ca_jwt; unused over plain HTTP to the stand-in.
      kubernetes_ca_cert: pki.ca.certPem,
      disable_local_ca_jwt: true,
      token_reviewer_jwt: "reviewer-token",
    });
    await vault.request("POST", "auth/kubernetes/role/totp-core", {
      bound_service_account_names: ["totp-core"],
      bound_service_account_namespaces: ["totp"],
      token_policies: ["totp-store"],
      token_ttl: "1h",
    });
  });
  afterAll(async () => {
    await new Promise((resolve) => reviewer?.close(resolve));
  });

  it("logs in with the JWT read from the configured file, and reads the file again at each login", async () => {
    const jwtPath = join(folder, "token");
    approved = serviceAccountJwt("totp-core");
    await writeFile(jwtPath, `${approved}\n`);
    const { log, lines, said } = captureLog();
    const store = await createSeedStore(
      { kind: "vault-kv", vault: options({ method: "kubernetes", role: "totp-core", jwtPath }) },
      { log, cacheTtlMs: 0 },
    );
    const ref = personal("k8s");
    const seed = newSeed();
    await store.put(ref, seed, "telegram:1", false);
    expect(reviewed.at(-1)).toBe(approved);
    expect(said("logged in to Vault")).toBe(1);

    // The kubelet rotates the file; the next login must send what it holds then. This one is refused.
    const rotated = serviceAccountJwt("totp-core");
    await writeFile(jwtPath, rotated);
    expect(await revokeRoleTokens(vault, "totp-core")).toBe(1);
    const err = await rejection(store.codes(ref, Date.now()));
    expect(reviewed.at(-1)).toBe(rotated);
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toBe("seed store unavailable");
    expect(lines.find((l) => l.msg === "Vault login failed")).toMatchObject({ level: 50, auth: "kubernetes" });

    // Approved now: the same store recovers on its next call.
    approved = rotated;
    const at = Date.now();
    expect((await store.codes(ref, at))?.window.code).toBe(codeWindow(seed, at).code);
    await store.close();
  });

  it("refuses a service account the role is not bound to before any review", async () => {
    const jwtPath = join(folder, "other-token");
    const other = serviceAccountJwt("someone-else");
    approved = other;
    await writeFile(jwtPath, other);
    const client = new VaultClient(options({ method: "kubernetes", role: "totp-core", jwtPath }));
    const err = await rejection(client.kvList("secret", "totp"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.cause).toBeInstanceOf(VaultFailure);
    expect((err.cause as VaultFailure).status).toBe(403);
    expect(reviewed).not.toContain(other);
    client.close();
  });

  it("answers UNAVAILABLE when the JWT file is missing", async () => {
    const { log, said } = captureLog();
    const client = new VaultClient(
      options({ method: "kubernetes", role: "totp-core", jwtPath: join(folder, "absent") }),
      { log },
    );
    expect((await rejection(client.kvList("secret", "totp"))).code).toBe("UNAVAILABLE");
    expect(said("Vault login failed")).toBe(1);
    client.close();
  });
});
