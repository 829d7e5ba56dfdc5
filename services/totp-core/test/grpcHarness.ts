import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  type ChannelCredentials,
  type ClientDuplexStream,
  credentials,
  loadPackageDefinition,
  makeGenericClientConstructor,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { createTotpClient, type TotpClient, TotpClientError } from "@totp-custody/client";
import {
  makeTestPki,
  eventually as poll,
  type RunningCore,
  startTotpCore,
  startVault,
  type TestPki,
  type Vault,
} from "@totp-custody/testkit";
import { service as healthService, type ServingStatus } from "grpc-health-check";
import { expect } from "vitest";

/** The policy the gRPC tests run under: two bots, a service, an admin, one shared label for the ops group. */
export const TEST_POLICY = `
clients:
  spiffe://totp.internal/telegram-bot: { actsFor: telegram }
  spiffe://totp.internal/zulip-bot: { actsFor: zulip }
  spiffe://totp.internal/deployer: { principal: service:deployer }
  spiffe://totp.internal/admin: { principal: service:admin, admin: true }
groups:
  ops: [telegram:111, zulip:42, service:deployer]
shared:
  team-aws: { readers: [group:ops], managers: [service:admin] }
selfService: true
`;

export const CLIENT_NAMES = ["admin", "telegram-bot", "zulip-bot", "deployer", "stranger"] as const;

export type StoreKind = "file" | "vault-kv" | "vault-totp";

/** What the core's Vault token needs for the KV store at secret/totp, and nothing more. */
export const CORE_VAULT_POLICY = `
path "secret/data/totp/*" { capabilities = ["create", "read", "update", "delete"] }
path "secret/metadata/totp/*" { capabilities = ["read", "list", "update"] }
`;

/** An AppRole `role` with the core's policy on `vault`; answers the core's login variables. */
export async function appRoleLogin(
  vault: Vault,
  role: string,
  ttls: { tokenTtl: number; tokenMaxTtl?: number },
): Promise<NodeJS.ProcessEnv> {
  await vault.writePolicy("totp-core", CORE_VAULT_POLICY);
  const { roleId, secretId } = await vault.enableAppRole({ role, policies: ["totp-core"], ...ttls });
  return { VAULT_AUTH_METHOD: "approle", VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId };
}

export interface CoreFixture {
  pki: TestPki;
  vault: Vault | undefined;
  core: RunningCore;
  client(name: (typeof CLIENT_NAMES)[number]): TotpClient;
  close(): Promise<void>;
}

export interface FixtureVaultOptions {
  /**
   * A server the test prepared itself (persistent storage, AppRole, mounts), used instead of a fresh dev server;
   * the fixture stops it on close like its own.
   */
  vault?: Vault;
  /** How the core logs in to Vault (VAULT_AUTH_METHOD, VAULT_ROLE_ID...); the root token by default. */
  vaultAuth?: NodeJS.ProcessEnv;
}

/** totp-core as its own process on the given store (a real OpenBao dev server for the Vault ones), over mTLS. */
export async function startCoreFixture(
  kind: StoreKind,
  env: NodeJS.ProcessEnv = {},
  options: FixtureVaultOptions = {},
): Promise<CoreFixture> {
  const pki = await makeTestPki([...CLIENT_NAMES]);
  const vault = kind === "file" ? undefined : (options.vault ?? (await startVault()));
  if (kind === "vault-totp" && !options.vault) await vault?.enableTotp();
  const core = await startTotpCore({
    pki,
    policy: TEST_POLICY,
    env: {
      // Limits are exercised in their own tests; here they would only get in the way of bulk calls.
      TOTP_RATE_REQUESTS_PER_PRINCIPAL: "1000000",
      TOTP_RATE_CODES_PER_LABEL: "1000000",
      TOTP_RATE_WRITES_PER_PRINCIPAL: "1000000",
      TOTP_RATE_DELETES_PER_PRINCIPAL: "1000000",
      ...(vault
        ? { TOTP_STORE: kind, VAULT_ADDR: vault.addr, ...(options.vaultAuth ?? { VAULT_TOKEN: vault.token }) }
        : {}),
      ...env,
    },
  });
  const clients = new Map<string, TotpClient>();
  return {
    pki,
    vault,
    core,
    client(name) {
      let client = clients.get(name);
      if (!client) {
        client = createTotpClient({ ...core.clientOptions(name), maxAttempts: 1 });
        clients.set(name, client);
      }
      return client;
    },
    async close() {
      for (const client of clients.values()) client.close();
      await core.stop();
      await vault?.stop();
      await pki.cleanup();
    },
  };
}

/** The error a call fails with; fails the test when the call succeeds. */
export async function failure(call: Promise<unknown>): Promise<TotpClientError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(TotpClientError);
    return err as TotpClientError;
  }
  throw new Error("expected the call to fail, and it succeeded");
}

/** Revokes every token whose metadata names `role`, as an operator would after a leak; answers how many. */
export async function revokeRoleTokens(vault: Vault, role: string): Promise<number> {
  const list = await vault.request<{ data: { keys: string[] } }>("LIST", "auth/token/accessors");
  let revoked = 0;
  for (const accessor of list.data.keys) {
    const found = await vault.request<{ data: { meta: Record<string, string> | null } }>(
      "POST",
      "auth/token/lookup-accessor",
      { accessor },
    );
    if (found.data.meta?.role_name === role || found.data.meta?.role === role) {
      await vault.request("POST", "auth/token/revoke-accessor", { accessor });
      revoked++;
    }
  }
  return revoked;
}

/** The ports the core announced in its ready line: where it bound TOTP_HEALTH_LISTEN and TOTP_METRICS_LISTEN. */
export function announcedPorts(core: RunningCore): { health: number | undefined; metrics: number | undefined } {
  const line = core.process.stdout.split("\n").find((l) => l.includes('"totp-core ready"'));
  if (!line) throw new Error("the core has not logged its ready line");
  const { health, metrics } = JSON.parse(line) as { health?: number; metrics?: number };
  return { health, metrics };
}

/** mTLS channel credentials with the test certificate `name`, for plain grpc-js clients (health, reflection...). */
export function mtlsCredentials(fx: CoreFixture, name: (typeof CLIENT_NAMES)[number]): ChannelCredentials {
  const cert = fx.pki.clients[name];
  if (!cert) throw new Error(`the test PKI has no certificate named ${name}`);
  return credentials.createSsl(Buffer.from(fx.pki.ca.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.certPem));
}

const HealthClient = makeGenericClientConstructor(healthService, "Health");
type HealthCheck = (
  request: { service: string },
  options: { deadline: Date },
  callback: (err: ServiceError | null, response?: { status: ServingStatus }) => void,
) => void;

/**
 * grpc.health.v1 Check over a new connection (a probe's view, not a warm channel's): the status, or the error
 * the call failed with.
 */
export async function checkHealth(
  address: string,
  channel: ChannelCredentials,
  service = "",
): Promise<ServingStatus | ServiceError> {
  const client = new HealthClient(address, channel);
  try {
    const check = (client.Check as HealthCheck).bind(client);
    return await new Promise((resolve) =>
      check({ service }, { deadline: new Date(Date.now() + 5000) }, (err, response) =>
        resolve(err ?? response?.status ?? "UNKNOWN"),
      ),
    );
  } finally {
    client.close();
  }
}

/**
 * Polls `check` until it holds; fails after `timeoutMs` (a bound against hangs, not a timing requirement). The
 * testkit's poll, with these tests' longer default.
 */
export const eventually = (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<true> =>
  poll(check, { what, timeoutMs, intervalMs: 100 });

const reflectionProto = join(
  dirname(createRequire(import.meta.url).resolve("@grpc/reflection")),
  "../proto/grpc/reflection/v1/reflection.proto",
);
const ReflectionClient = (
  loadPackageDefinition(loadSync(reflectionProto)) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
  }
).grpc.reflection.v1.ServerReflection;

/** The service names grpc.reflection.v1 lists, or the error the reflection call failed with. */
export async function listServicesByReflection(
  address: string,
  channel: ChannelCredentials,
): Promise<string[] | ServiceError> {
  const client = new ReflectionClient(address, channel);
  try {
    return await new Promise((resolve) => {
      const stream = (
        client.ServerReflectionInfo as (options: { deadline: Date }) => ClientDuplexStream<unknown, ListReply>
      ).call(client, { deadline: new Date(Date.now() + 5000) });
      stream.on("data", (reply: ListReply) => {
        resolve(reply.listServicesResponse?.service.map((s) => s.name) ?? []);
        stream.cancel();
      });
      stream.on("error", (err: ServiceError) => resolve(err));
      stream.write({ listServices: "" });
    });
  } finally {
    client.close();
  }
}

interface ListReply {
  listServicesResponse?: { service: Array<{ name: string }> };
}
