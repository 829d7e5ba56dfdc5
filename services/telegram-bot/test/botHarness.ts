import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTotpClient } from "@totp-custody/client";
import {
  codesBetween,
  makeTestPki,
  type ProcessHandle,
  type RequestRecord,
  type RunningCore,
  runProcess,
  startTelegramServer,
  startTotpCore,
  startVault,
  type TelegramSeenMessage,
  type TelegramServer,
  type TestPki,
  type Vault,
} from "@totp-custody/testkit";
import { expect } from "vitest";

/** The built entry point; `npm test` builds before it runs. */
export const BOT_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** Every variable the bot reads, unset, so the test's own environment cannot satisfy one. */
export const UNSET_BOT_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BOT_TOKEN_FILE",
    "TELEGRAM_API_ROOT",
    "TOTP_ADDR",
    "TOTP_TLS_CERT",
    "TOTP_TLS_KEY",
    "TOTP_TLS_CA",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_LISTEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_WEBHOOK_SECRET_FILE",
    "TELEGRAM_ALLOWED_USERS",
    "BOT_HEALTH_LISTEN",
    "TELEGRAM_EXPIRED_CODES",
  ].map((name) => [name, undefined]),
);

/** The bot acts for Telegram users; the admin manages the team label that the ops group reads. */
export function botPolicy(opsMembers: number[]): string {
  return `
clients:
  spiffe://totp.internal/telegram-bot: { actsFor: telegram }
  spiffe://totp.internal/admin: { principal: service:admin, admin: true }
groups:
  ops: [${opsMembers.map((id) => `telegram:${id}`).join(", ")}]
shared:
  team-aws: { readers: [group:ops], managers: [service:admin] }
selfService: true
`;
}

/** A real OpenBao, a real totp-core on it (mTLS with certificates made now) and the local Bot API server. */
export interface BotWorld {
  vault: Vault;
  pki: TestPki;
  core: RunningCore;
  tg: TelegramServer;
  /** The policy's text, to start the core again the same way. */
  policy: string;
  auditFile: string;
  /** Principals of the calls that reached totp-core, from its audit log. */
  auditedPrincipals(): Promise<string[]>;
  /** Stores a seed as the policy's admin (service:admin), the way a team label is set up. */
  registerAsAdmin(label: string, otpauthUri: string): Promise<void>;
  /** Stops totp-core and starts it again on the same port, the seeds staying in OpenBao. */
  restartCore(between?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(policyFor: (tg: TelegramServer) => string): Promise<BotWorld> {
  const vault = await startVault();
  const pki = await makeTestPki(["telegram-bot", "admin"]);
  const tg = await startTelegramServer();
  const dir = await mkdtemp(join(tmpdir(), "tgbot-e2e-"));
  const auditFile = join(dir, "audit.log");
  const policy = policyFor(tg);
  const coreEnv = {
    TOTP_STORE: "vault-kv",
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: vault.token,
    TOTP_AUDIT_FILE: auditFile,
  };
  let core = await startTotpCore({ pki, policy, env: coreEnv });
  return {
    vault,
    pki,
    get core() {
      return core;
    },
    tg,
    policy,
    auditFile,
    async auditedPrincipals() {
      const text = await readFile(auditFile, "utf8").catch(() => "");
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => String(JSON.parse(line).principal ?? ""));
    },
    async registerAsAdmin(label, otpauthUri) {
      const admin = pki.clients.admin;
      if (!admin) throw new Error("the test PKI has no admin certificate");
      const client = createTotpClient({
        address: core.address,
        ca: pki.ca.certPem,
        cert: admin.certPem,
        key: admin.keyPem,
      });
      try {
        await client.registerSeed({ label, otpauthUri });
      } finally {
        client.close();
      }
    },
    async restartCore(between) {
      const listen = core.env.TOTP_LISTEN;
      await core.stop();
      await between?.();
      core = await startTotpCore({ pki, policy, env: { ...coreEnv, TOTP_LISTEN: listen } });
    },
    async close() {
      await tg.close();
      await core.stop();
      await vault.stop();
      await pki.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface BotProcess {
  process: ProcessHandle;
  healthPort: number | undefined;
  webhookPort: number | undefined;
}

/** Starts `node dist/main.js` against the world and waits for its ready line. */
export async function startBotProcess(world: BotWorld, env: NodeJS.ProcessEnv = {}): Promise<BotProcess> {
  const client = world.pki.clients["telegram-bot"];
  if (!client) throw new Error("the test PKI has no telegram-bot certificate");
  const bot = runProcess("node", [BOT_MAIN], {
    env: {
      ...UNSET_BOT_ENV,
      TELEGRAM_BOT_TOKEN: world.tg.token,
      TELEGRAM_API_ROOT: world.tg.apiRoot,
      TOTP_ADDR: world.core.address,
      TOTP_TLS_CERT: client.certPath,
      TOTP_TLS_KEY: client.keyPath,
      TOTP_TLS_CA: world.pki.caPath,
      BOT_HEALTH_LISTEN: "127.0.0.1:0",
      ...env,
    },
  });
  await bot.waitForOutput(/"msg":"telegram-bot ready"/, 30_000);
  const line = bot.stdout.split("\n").find((l) => l.includes('"msg":"telegram-bot ready"')) ?? "{}";
  const ready = JSON.parse(line) as { health?: number; listen?: string };
  return {
    process: bot,
    healthPort: ready.health,
    webhookPort: ready.listen === undefined ? undefined : Number(ready.listen.split(":").pop()),
  };
}

/**
 * The first message the bot sent in `chatId` after message `after`, as it was sent: a code with little time left
 * can be edited to expired, or deleted, before the test first looks.
 */
export function botReplyAfter(tg: TelegramServer, chatId: number, after: number): Promise<TelegramSeenMessage> {
  return tg.waitFor(
    () => {
      const reply = tg.chat(chatId).find((m) => m.from === "bot" && m.messageId > after);
      return reply && tg.messageAsSent(chatId, reply.messageId);
    },
    { timeoutMs: 60_000, what: `a bot reply after message ${after} in chat ${chatId}` },
  );
}

/** The accepted Bot API call of `method` about message `messageId` in `chatId` (a deletion, an edit). */
export function requestAbout(
  world: BotWorld,
  method: string,
  chatId: number,
  messageId: number,
): RequestRecord | undefined {
  return world.tg.requests.find(
    (r) =>
      r.method === method &&
      r.status === 200 &&
      Number(r.params.chat_id) === chatId &&
      Number(r.params.message_id) === messageId,
  );
}

/**
 * The code a message shows, checked the way a user would see it: in exactly one spoiler entity overlapped by no
 * other entity, nowhere in the text outside it, and the message protected from forwarding.
 */
export function shownCode(message: TelegramSeenMessage): string {
  const spoilers = message.entities.filter((e) => e.type === "spoiler");
  expect(spoilers, `one spoiler in: ${message.visibleText}`).toHaveLength(1);
  const [spoiler] = spoilers;
  if (!spoiler) throw new Error("no spoiler");
  for (const other of message.entities.filter((e) => e !== spoiler)) {
    const overlaps = other.offset < spoiler.offset + spoiler.length && spoiler.offset < other.offset + other.length;
    expect(overlaps, `${other.type} entity over the spoiler`).toBe(false);
  }
  const code = message.text.slice(spoiler.offset, spoiler.offset + spoiler.length);
  expect(code).toMatch(/^\d{6,8}$/);
  expect(message.text.split(code)).toHaveLength(2);
  expect(message.visibleText).not.toContain(code);
  expect(message.protectContent).toBe(true);
  expect(message.visibleText).toMatch(/Valid for \d+ more seconds/);
  return code;
}

/** Whether `code` is the code of `seed` at some moment between `fromMs` and now (computed by the otpauth package). */
export function isCodeOf(
  code: string,
  seed: string,
  fromMs: number,
  options: { digits?: number; period?: number } = {},
): boolean {
  return codesBetween(seed, fromMs - 1000, Date.now() + 1000, options).includes(code);
}

/** Nothing in `output` is one of `secrets` (seeds, codes). */
export function expectNoSecretIn(output: string, secrets: Iterable<string>): void {
  for (const secret of secrets) expect(output.includes(secret), "a seed or code in the bot's output").toBe(false);
}
