import { createTotpClient, type TotpClient, TotpClientError } from "@totp-custody/client";
import {
  makeTestPki,
  type RunningCore,
  startTotpCore,
  startVault,
  type TestPki,
  type Vault,
} from "@totp-custody/testkit";
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

export interface CoreFixture {
  pki: TestPki;
  vault: Vault | undefined;
  core: RunningCore;
  client(name: (typeof CLIENT_NAMES)[number]): TotpClient;
  close(): Promise<void>;
}

/** totp-core as its own process on the given store (a real OpenBao dev server for the Vault ones), over mTLS. */
export async function startCoreFixture(kind: StoreKind, env: NodeJS.ProcessEnv = {}): Promise<CoreFixture> {
  const pki = await makeTestPki([...CLIENT_NAMES]);
  const vault = kind === "file" ? undefined : await startVault();
  if (kind === "vault-totp") await vault?.enableTotp();
  const core = await startTotpCore({
    pki,
    policy: TEST_POLICY,
    env: {
      // Limits are exercised in their own tests; here they would only get in the way of bulk calls.
      TOTP_RATE_REQUESTS_PER_PRINCIPAL: "1000000",
      TOTP_RATE_CODES_PER_LABEL: "1000000",
      TOTP_RATE_WRITES_PER_PRINCIPAL: "1000000",
      TOTP_RATE_DELETES_PER_PRINCIPAL: "1000000",
      ...(vault ? { TOTP_STORE: kind, VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token } : {}),
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
