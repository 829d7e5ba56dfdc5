import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server as HttpServer } from "node:http";
import { connect, createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import {
  enableVaultKubernetesAuth,
  type KubeApiServer,
  makeTestPki,
  startKubeApiServer,
  startVault,
  type TestPki,
  type Vault,
} from "@totp-custody/testkit";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TotpError } from "../src/errors.js";
import { Metrics } from "../src/ops/Metrics.js";
import { codeWindow } from "../src/otp/codeWindow.js";
import { createSeedStore } from "../src/store/createSeedStore.js";
import { type VaultAuth, VaultClient, type VaultClientOptions } from "../src/vault/VaultClient.js";
import { VaultFailure } from "../src/vault/VaultFailure.js";
import { CORE_VAULT_POLICY, eventually, revokeRoleTokens } from "./grpcHarness.js";
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
    const renewing = new VaultClient(options(await appRole("renewed", { tokenTtl: 3, tokenMaxTtl: 600 })), {
      log: renewed.log,
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

    // One login, and a token that is still alive past its first TTL: it was renewed.
    expect(renewed.said("logged in to Vault")).toBe(1);
    expect(renewing.tokenTtlSeconds()).toBeGreaterThan(0);
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
    const client = new VaultClient(options({ method: "token", token: vault.token }));
    await client.health();
    expect(client.tokenTtlSeconds()).toBeUndefined();
    client.close();
  });

  it("lists a folder a window at a time, folders counted but left out, with OpenBao's paginated LIST", async () => {
    const client = new VaultClient(options({ method: "token", token: vault.token }));
    for (const name of ["a", "b", "c/x", "d", "e"]) await client.kvReplace("secret", `paged/${name}`, { v: 1 });
    expect(await client.kvList("secret", "paged")).toEqual({ names: ["a", "b", "d", "e"], complete: true });
    expect(await client.kvList("secret", "paged", { after: "a", limit: 2 })).toEqual({
      names: ["b"],
      complete: false,
    });
    expect(await client.kvList("secret", "paged", { after: "c/", limit: 2 })).toEqual({
      names: ["d", "e"],
      complete: false,
    });
    expect(await client.kvList("secret", "paged", { after: "e", limit: 2 })).toEqual({ names: [], complete: true });
    expect(await client.kvList("secret", "nothing-here", { after: "", limit: 2 })).toEqual({
      names: [],
      complete: true,
    });
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
    expect((err.cause as VaultFailure).errno).toBe("ETIMEDOUT");
    expect((await rejection(client.health())).code).toBe("UNAVAILABLE");
    for (const socket of sockets) socket.destroy();
    client.close();
  });

  /** TLS in front of the real OpenBao, with a certificate for 127.0.0.1 from the test CA; counts handshakes. */
  const tlsVault = async () => {
    const target = new URL(vault.addr);
    const proxy = createTlsServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (socket) => {
      proxied.handshakes++;
      const upstream = connect(Number(target.port), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
    });
    const proxied = { addr: `https://127.0.0.1:${await listen(proxy)}`, handshakes: 0 };
    return proxied;
  };

  it("talks TLS to a Vault whose certificate a private CA signed, and refuses it without that CA", async () => {
    const { addr } = await tlsVault();
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

    // Vault's own CLI honours VAULT_SKIP_VERIFY from the environment; our client must not.
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

  it("keeps its TLS connection to Vault open from one request to the next", async () => {
    const proxied = await tlsVault();
    const client = new VaultClient(
      options({ method: "token", token: vault.token }, { addr: proxied.addr, caCertPem: pki.ca.certPem }),
    );
    // Sequential, as the seed cache's freshness checks mostly are: each would otherwise pay a new handshake.
    // 20 checks are 40 requests. The pool may open a second connection when a request comes as the previous one's
    // answer is being read (its connection is not free yet); after that both are kept.
    for (let i = 0; i < 20; i++) await client.health();
    expect(proxied.handshakes).toBeGreaterThanOrEqual(1);
    expect(proxied.handshakes).toBeLessThanOrEqual(2);
    client.close();
  });
});

/*
 * Kubernetes auth with everything real on both sides: OpenBao's kubernetes auth method, and a kube-apiserver on
 * etcd (testkit's startKubeApiServer). The JWTs are service-account tokens from the TokenRequest API, signed with
 * that API server's key. OpenBao sends each login's JWT to the TokenReview API over TLS checked against the API
 * server's serving certificate, as a reviewer ServiceAccount that RBAC allows to (system:auth-delegator); so the
 * signature, expiry, audience and the existence of the ServiceAccount are judged by Kubernetes itself, the role's
 * bindings by OpenBao, and our client's login and handling of refusals by this code. Not real: no kubelet writes or
 * rotates the token file (the tests do, as it would), and no pod runs.
 */
describe("Kubernetes auth", () => {
  let kube: KubeApiServer;

  /** A new token of `namespace/name` from the TokenRequest API, noted as a secret that no log line may contain. */
  const tokenOf = async (namespace: string, name: string) => {
    const jwt = await kube.createToken(namespace, name);
    secrets.push(jwt);
    return jwt;
  };
  const kubernetesAuth = (jwtPath: string, role = "totp-core"): VaultAuth => ({ method: "kubernetes", role, jwtPath });

  beforeAll(async () => {
    kube = await startKubeApiServer();
    secrets.push(kube.adminToken);
    for (const [namespace, name] of [
      ["totp", "totp-core"],
      ["totp", "someone-else"],
      ["elsewhere", "totp-core"],
    ] as const) {
      await kube.createServiceAccount(namespace, name);
    }
    secrets.push(await enableVaultKubernetesAuth(vault, kube));
    await vault.request("POST", "auth/kubernetes/role/totp-core", {
      bound_service_account_names: ["totp-core"],
      bound_service_account_namespaces: ["totp"],
      token_policies: ["totp-store"],
      token_ttl: "1h",
    });
  });
  afterAll(async () => {
    await kube?.stop();
  });

  it("logs in with the JWT read from the configured file, and reads the file again at each login", async () => {
    const jwtPath = join(folder, "token");
    await writeFile(jwtPath, `${await tokenOf("totp", "totp-core")}\n`);
    const { log, lines, said } = captureLog();
    const store = await createSeedStore(
      { kind: "vault-kv", vault: options(kubernetesAuth(jwtPath)) },
      { log, cacheTtlMs: 0 },
    );
    const ref = personal("k8s");
    const seed = newSeed();
    secrets.push(seed.secret.toString("base64"));
    await store.put(ref, seed, "telegram:1", false);
    expect(said("logged in to Vault")).toBe(1);

    // The file now holds a valid token of another ServiceAccount, one the role is not bound to. The next login
    // must send what the file holds then, and so is refused.
    await writeFile(jwtPath, await tokenOf("totp", "someone-else"));
    expect(await revokeRoleTokens(vault, "totp-core")).toBe(1);
    const err = await rejection(store.codes(ref, Date.now()));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toBe("seed store unavailable");
    expect(lines.find((l) => l.msg === "Vault login failed")).toMatchObject({ level: 50, auth: "kubernetes" });

    // Rotated as the kubelet would, to a new token of the bound account: the same store recovers on its next call.
    await writeFile(jwtPath, await tokenOf("totp", "totp-core"));
    const at = Date.now();
    expect((await store.codes(ref, at))?.window.code).toBe(codeWindow(seed, at).code);
    expect(said("logged in to Vault")).toBe(2);
    await store.close();
  });

  it("refuses valid tokens of a service account or namespace the role is not bound to", async () => {
    for (const [namespace, name] of [
      ["totp", "someone-else"],
      ["elsewhere", "totp-core"],
    ] as const) {
      const jwt = await tokenOf(namespace, name);
      // Kubernetes vouches for the token: what refuses it is the role's binding.
      expect((await kube.reviewToken(jwt)).authenticated).toBe(true);
      const jwtPath = join(folder, `token-${namespace}-${name}`);
      await writeFile(jwtPath, jwt);
      const client = new VaultClient(options(kubernetesAuth(jwtPath)));
      const err = await rejection(client.kvList("secret", "totp"));
      expect(err.code).toBe("UNAVAILABLE");
      expect(err.cause).toBeInstanceOf(VaultFailure);
      expect((err.cause as VaultFailure).status).toBe(403);
      client.close();
    }
  });

  it("refuses a token with the bound account's claims that the API server did not sign", async () => {
    const [header, claims] = (await tokenOf("totp", "totp-core")).split(".");
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const forged = `${header}.${claims}.${sign("sha256", Buffer.from(`${header}.${claims}`), privateKey).toString("base64url")}`;
    secrets.push(forged);
    const jwtPath = join(folder, "token-forged");
    await writeFile(jwtPath, forged);
    const { log, said } = captureLog();
    const client = new VaultClient(options(kubernetesAuth(jwtPath)), { log });
    const err = await rejection(client.kvList("secret", "totp/users"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.cause).toBeInstanceOf(VaultFailure);
    expect((err.cause as VaultFailure).status).toBe(403);
    expect(said("Vault login failed")).toBe(1);
    expect(said("logged in to Vault")).toBe(0);
    // The claims alone pass the role's bindings: it is the API server that says no.
    expect((await kube.reviewToken(forged)).authenticated).toBeFalsy();
    client.close();
  });

  it("refuses a token whose ServiceAccount was deleted, as the real TokenReview no longer vouches for it", async () => {
    await kube.createServiceAccount("totp", "retired");
    await vault.request("POST", "auth/kubernetes/role/retired", {
      bound_service_account_names: ["retired"],
      bound_service_account_namespaces: ["totp"],
      token_policies: ["totp-store"],
    });
    const jwtPath = join(folder, "token-retired");
    await writeFile(jwtPath, await tokenOf("totp", "retired"));
    // The API server remembers a token it accepted for 10 s; this second one is never reviewed before the deletion,
    // so its refusal comes from the account's absence and not from that memory running out.
    const unreviewed = await tokenOf("totp", "retired");
    const { log, lines, said } = captureLog();
    const client = new VaultClient(options(kubernetesAuth(jwtPath, "retired")), { log });
    await client.kvList("secret", "totp/users");
    expect(said("logged in to Vault")).toBe(1);

    await kube.deleteServiceAccount("totp", "retired");
    await writeFile(jwtPath, unreviewed);
    expect(await revokeRoleTokens(vault, "retired")).toBe(1);
    let refusal: unknown;
    // The API server's authenticator learns of the deletion through a watch, a moment after the DELETE answers; a
    // login that got in before is revoked and tried again.
    await eventually(async () => {
      refusal = await client.kvList("secret", "totp/users").then(
        () => undefined,
        (e: unknown) => e,
      );
      if (refusal === undefined) await revokeRoleTokens(vault, "retired");
      return refusal !== undefined;
    }, "a login with the deleted account's token refused");
    expect(refusal).toBeInstanceOf(TotpError);
    expect((refusal as TotpError).code).toBe("UNAVAILABLE");
    expect(refusal && (refusal as TotpError).cause).toBeInstanceOf(VaultFailure);
    expect(((refusal as TotpError).cause as VaultFailure).status).toBe(403);
    expect((await kube.reviewToken(unreviewed)).authenticated).toBeFalsy();
    expect(lines.find((l) => l.msg === "Vault login failed")).toMatchObject({ level: 50, auth: "kubernetes" });
    client.close();
  });

  it("answers UNAVAILABLE when the JWT file is missing", async () => {
    const { log, said } = captureLog();
    const client = new VaultClient(options(kubernetesAuth(join(folder, "absent"))), { log });
    expect((await rejection(client.kvList("secret", "totp"))).code).toBe("UNAVAILABLE");
    expect(said("Vault login failed")).toBe(1);
    client.close();
  });
});
