import { fileURLToPath } from "node:url";
import { runProcess } from "@totp-custody/testkit";
import { describe, expect, it } from "vitest";

/** The built entry point; `npm test` builds before it runs. */
export const BOT_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** Every variable the bot reads, unset, so the test's own environment cannot satisfy one. */
const UNSET = Object.fromEntries(
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
  ].map((name) => [name, undefined]),
);

async function startFails(env: NodeJS.ProcessEnv) {
  const bot = runProcess("node", [BOT_MAIN], { env: { ...UNSET, ...env } });
  const status = await bot.exited;
  return { status, stdout: bot.stdout, stderr: bot.stderr };
}

describe("telegram-bot: a configuration error ends the start with exit 2 and one line naming the variable", () => {
  it("names a missing token", async () => {
    const { status, stdout, stderr } = await startFails({});
    expect(status.code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^telegram-bot: configuration error: TELEGRAM_BOT_TOKEN: required[^\n]*\n$/);
  });

  it("names a malformed token without quoting it, and a missing TOTP_ADDR", async () => {
    const secretPart = "this-is-not-a-token-but-could-be-secret";
    const bad = await startFails({ TELEGRAM_BOT_TOKEN: secretPart });
    expect(bad.status.code).toBe(2);
    expect(bad.stderr).toMatch(/^telegram-bot: configuration error: TELEGRAM_BOT_TOKEN: expected[^\n]*\n$/);
    expect(bad.stderr).not.toContain(secretPart);

    const noCore = await startFails({ TELEGRAM_BOT_TOKEN: "123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOpp" });
    expect(noCore.status.code).toBe(2);
    expect(noCore.stderr).toMatch(/^telegram-bot: configuration error: TOTP_ADDR: required[^\n]*\n$/);
  });
});
