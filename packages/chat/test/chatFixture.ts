import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTotpClient, type TotpClient } from "@totp-custody/client";
import { makeTestPki, type RunningCore, startTotpCore, type TestPki } from "@totp-custody/testkit";
import type { ChatContext, ChatReply } from "../src/index.js";

/** Both bots, an admin that manages the team label, and the ops group that reads it. */
export const CHAT_POLICY = `
clients:
  spiffe://totp.internal/telegram-bot: { actsFor: telegram }
  spiffe://totp.internal/zulip-bot: { actsFor: zulip }
  spiffe://totp.internal/admin: { principal: service:admin, admin: true }
groups:
  ops: [telegram:111, zulip:42]
shared:
  team-aws: { readers: [group:ops], managers: [service:admin] }
selfService: true
`;

export interface ChatFixture {
  core: RunningCore;
  pki: TestPki;
  /** An SDK client with a certificate of the test PKI, made once per name. */
  client(name: "telegram-bot" | "zulip-bot" | "admin"): TotpClient;
  /** The audit lines the core wrote, parsed: one per call that reached it. */
  audit(): Promise<{ principal?: string; method: string; label?: string; outcome: string }[]>;
  close(): Promise<void>;
}

/** A real totp-core (its own process, real mTLS, certificates made now) for the chat core to talk to. */
export async function startChatFixture(env: NodeJS.ProcessEnv = {}): Promise<ChatFixture> {
  const pki = await makeTestPki(["telegram-bot", "zulip-bot", "admin"]);
  const dir = await mkdtemp(join(tmpdir(), "chat-test-"));
  const auditFile = join(dir, "audit.log");
  let core: RunningCore;
  try {
    core = await startTotpCore({ pki, policy: CHAT_POLICY, env: { TOTP_AUDIT_FILE: auditFile, ...env } });
  } catch (err) {
    await pki.cleanup();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const clients = new Map<string, TotpClient>();
  return {
    core,
    pki,
    client(name) {
      let client = clients.get(name);
      if (!client) {
        client = createTotpClient({ ...core.clientOptions(name), maxAttempts: 1 });
        clients.set(name, client);
      }
      return client;
    },
    async audit() {
      const text = await readFile(auditFile, "utf8");
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line));
    },
    async close() {
      for (const client of clients.values()) client.close();
      await core.stop();
      await pki.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A private chat of a Telegram user. */
export const telegramDm = (userId: string): ChatContext => ({
  platform: "telegram",
  userId,
  origin: "private",
  answersPrivately: false,
});

/** A Telegram group, where answers are posted for everyone to read. */
export const telegramGroup = (userId: string): ChatContext => ({ ...telegramDm(userId), origin: "public" });

/** What a user reads: the paragraphs' spans joined, one line per paragraph, then the buttons' texts. */
export function plainText(reply: ChatReply): string {
  const lines = reply.paragraphs.map((paragraph) => paragraph.map((span) => span.text).join(""));
  const buttons = (reply.buttons ?? []).flat().map((button) => `[${button.text}]`);
  return [...lines, ...(buttons.length > 0 ? [buttons.join(" ")] : [])].join("\n");
}

/**
 * Fails when a secret shows anywhere a user reads outside the hidden code: the seed in any spelling (grouped,
 * lower-case) and the code.
 */
export function expectNoSecret(reply: ChatReply, secrets: { seed?: string; code?: string }): void {
  const shown = plainText(reply);
  const squeezed = shown.replace(/\s/g, "").toUpperCase();
  if (secrets.seed !== undefined && squeezed.includes(secrets.seed.replace(/[\s=]/g, "").toUpperCase())) {
    throw new Error("the seed shows in the reply's text");
  }
  if (secrets.code !== undefined && shown.includes(secrets.code)) throw new Error("the code shows in the reply's text");
}
