import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  codesBetween,
  makeTestPki,
  type ProcessHandle,
  type RunningCore,
  runProcess,
  type SeenMessage,
  startTotpCore,
  startVault,
  startZulipServer,
  type TestPki,
  type Vault,
  type ZulipServer,
  type ZulipUser,
} from "@totp-custody/testkit";
import { expect } from "vitest";

/** The built entry point; `npm test` builds before it runs the tests. */
export const ZULIP_BOT_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** The bot acts for zulip:<id>; the admin manages a team label that the ops group (Alice) reads. */
export const BOT_POLICY = (opsIds: number[]) => `
clients:
  spiffe://totp.internal/zulip-bot: { actsFor: zulip }
  spiffe://totp.internal/admin: { principal: service:admin, admin: true }
groups:
  ops: [${opsIds.map((id) => `zulip:${id}`).join(", ")}]
shared:
  team-aws: { readers: [group:ops], managers: [service:admin] }
selfService: true
`;

export interface BotFixture {
  vault: Vault;
  pki: TestPki;
  core: RunningCore;
  zulip: ZulipServer;
  bot: ZulipUser;
  alice: ZulipUser;
  bob: ZulipUser;
  /** The bot's environment for this realm and core, with `env` on top (undefined removes a variable). */
  botEnv(env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Starts the bot process and waits for its ready line. */
  startBot(env?: NodeJS.ProcessEnv): Promise<ProcessHandle>;
  /** Stops totp-core and starts it again on the same port and Vault (after `downMs`): a restart during a rollout. */
  restartCore(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A real OpenBao, a real totp-core on it over mTLS, and the local Zulip server with a bot and two people. */
export async function startBotFixture(): Promise<BotFixture> {
  const vault = await startVault();
  const pki = await makeTestPki(["zulip-bot", "admin"]);
  const zulip = await startZulipServer();
  const bot = zulip.addBot({ fullName: "TOTP Bot" });
  const alice = zulip.addUser({ fullName: "Alice Doe" });
  const bob = zulip.addUser({ fullName: "Bob Roe" });
  const coreEnv = { TOTP_STORE: "vault-kv", VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token };
  const policy = BOT_POLICY([alice.id]);
  let core = await startTotpCore({ pki, policy, env: coreEnv });
  const processes: ProcessHandle[] = [];
  const cert = pki.clients["zulip-bot"];
  if (!cert) throw new Error("no zulip-bot certificate");
  const fixture: BotFixture = {
    vault,
    pki,
    get core() {
      return core;
    },
    zulip,
    bot,
    alice,
    bob,
    botEnv: (env = {}) => ({
      // Nothing of the developer's own Zulip setup leaks into the process under test.
      ZULIP_RC: undefined,
      ZULIP_API_KEY_FILE: undefined,
      ZULIP_WEBHOOK_TOKEN_FILE: undefined,
      ZULIP_WEBHOOK_LISTEN: undefined,
      ZULIP_WEBHOOK_TOKEN: undefined,
      ZULIP_ALLOWED_SENDERS: undefined,
      ZULIP_STREAMS: undefined,
      BOT_HEALTH_LISTEN: undefined,
      ZULIP_REALM: zulip.url,
      ZULIP_EMAIL: bot.email,
      ZULIP_API_KEY: bot.apiKey,
      TOTP_ADDR: core.address,
      TOTP_TLS_CERT: cert.certPath,
      TOTP_TLS_KEY: cert.keyPath,
      TOTP_TLS_CA: pki.caPath,
      ...env,
    }),
    async startBot(env = {}) {
      const handle = runProcess("node", [ZULIP_BOT_MAIN], { env: fixture.botEnv(env) });
      processes.push(handle);
      await handle.waitForOutput(/zulip-bot ready/, 30_000);
      return handle;
    },
    async restartCore(downMs = 0) {
      const listen = core.env.TOTP_LISTEN;
      await core.stop();
      await sleep(downMs);
      core = await startTotpCore({ pki, policy, env: { ...coreEnv, TOTP_LISTEN: listen } });
    },
    async close() {
      for (const handle of processes) await handle.stop();
      await zulip.close();
      await core.stop();
      await pki.cleanup();
      await vault.stop();
    },
  };
  return fixture;
}

/** The bot's messages in `user`'s direct conversation with it, oldest first. */
export function botDms(fx: BotFixture, user: ZulipUser): SeenMessage[] {
  return fx.zulip.messagesSeenBy(user, { with: fx.bot }).filter((m) => m.senderId === fx.bot.id);
}

/** Sends `content` from `user` to the bot and waits for the bot's next message in their conversation. */
export async function ask(fx: BotFixture, user: ZulipUser, content: string): Promise<SeenMessage> {
  const before = botDms(fx, user).length;
  fx.zulip.sendDm(user, fx.bot, content);
  // A bound against a hang on a loaded machine, not a timing requirement.
  return fx.zulip.waitFor(() => botDms(fx, user)[before], { what: `the reply to "${content}"`, timeoutMs: 30_000 });
}

/**
 * Fails when the bot sent `user` anything but `count` messages so far. A marker message is answered after every
 * message taken before it (the bot answers one sender's messages in order), so once its reply is there, a doubled
 * or late reply to an earlier message would be there too: no fixed wait.
 */
export async function expectNoMoreReplies(fx: BotFixture, user: ZulipUser, count: number): Promise<void> {
  const marker = await ask(fx, user, "whoami");
  expect(marker.visibleText).toContain(`zulip:${user.id}`);
  expect(botDms(fx, user)).toHaveLength(count + 1);
}

/**
 * The code in a code reply, checked to be where it belongs: the only spoiler's body, nowhere in what a reader sees
 * before opening it, and one of the codes of `seed` while the request was in flight. The reply is read as sent: a
 * code with little time left can be edited to expired before the test first looks.
 */
export function expectCodeReply(
  reply: SeenMessage,
  seed: string,
  askedAtMs: number,
  options: { digits?: number; period?: number } = {},
): string {
  const sent = reply.asSent;
  expect(sent.spoilers).toHaveLength(1);
  const code = /^`(\d+)`$/.exec(sent.spoilers[0]?.body.trim() ?? "")?.[1];
  expect(code, "the spoiler holds the code").toBeDefined();
  const shown = code as string;
  expect(codesBetween(seed, askedAtMs - 1000, reply.timestamp * 1000 + 1000, options)).toContain(shown);
  expect(sent.visibleText).not.toContain(shown);
  expect(sent.spoilers[0]?.header).not.toContain(shown);
  expect(sent.visibleText).toMatch(/Valid for \d+ more seconds/);
  return shown;
}

/** Neither a seed nor a code shows in the bot's output. */
export function expectCleanOutput(handle: ProcessHandle, secrets: string[]): void {
  const output = handle.stdout + handle.stderr;
  for (const secret of secrets) expect(output.includes(secret), "a secret in the bot's output").toBe(false);
}

/**
 * The label of each imported entry, by its issuer, read from an import reply's lines
 * "<label> (<issuer>, <account>), 6 digits every 30 s".
 */
export function importedLabels(reply: SeenMessage): Map<string, string> {
  const labels = new Map<string, string>();
  for (const [, label, issuer] of reply.visibleText.matchAll(/^(\S+) \(([^,)]+)[,)]/gm)) {
    labels.set(issuer as string, label as string);
  }
  return labels;
}
