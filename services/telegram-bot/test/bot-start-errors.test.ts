import { makeTestPki, runProcess, startTelegramServer } from "@totp-custody/testkit";
import { describe, expect, it } from "vitest";
import { BOT_MAIN, UNSET_BOT_ENV } from "./botHarness.js";

async function startFails(env: NodeJS.ProcessEnv) {
  const bot = runProcess("node", [BOT_MAIN], { env: { ...UNSET_BOT_ENV, ...env } });
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

describe("telegram-bot: a token the Bot API refuses ends the start with exit 1, the token in no output", () => {
  it("reports getMe's 401 in one line", async () => {
    const tg = await startTelegramServer();
    const pki = await makeTestPki(["telegram-bot"]);
    try {
      const client = pki.clients["telegram-bot"];
      const wrong = `${tg.bot.id}:${"x".repeat(35)}`;
      const { status, stdout, stderr } = await startFails({
        TELEGRAM_BOT_TOKEN: wrong,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TOTP_ADDR: "127.0.0.1:1",
        TOTP_TLS_CERT: client?.certPath,
        TOTP_TLS_KEY: client?.keyPath,
        TOTP_TLS_CA: pki.caPath,
      });
      expect(status.code).toBe(1);
      expect(stderr).toMatch(/^telegram-bot: failed to start: 401: Unauthorized[^\n]*\n$/m);
      expect(stdout + stderr).not.toContain("x".repeat(35));
    } finally {
      await tg.close();
      await pki.cleanup();
    }
  });
});
