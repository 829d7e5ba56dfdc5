import { expectedCode, newSecret, qrImage, startVault, type Vault, VaultError } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChatDeps, handleAction, handleImage, handleMessage } from "../src/index.js";
import { type ChatFixture, expectNoSecret, plainText, startChatFixture, telegramDm } from "./chatFixture.js";

describe("the chat commands with seeds in a real OpenBao (TOTP_STORE=vault-kv)", () => {
  let vault: Vault;
  let fx: ChatFixture;
  let deps: ChatDeps;
  beforeAll(async () => {
    vault = await startVault();
    fx = await startChatFixture({ TOTP_STORE: "vault-kv", VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token });
    deps = { client: fx.client("telegram-bot") };
  });
  afterAll(async () => {
    await fx?.close();
    await vault?.stop();
  });

  /** The labels Vault holds for a Telegram user, read from its KV metadata. */
  async function vaultLabels(userId: string): Promise<string[]> {
    try {
      const listed = await vault.request<{ data: { keys: string[] } }>(
        "LIST",
        `secret/metadata/totp/users/telegram/${userId}`,
      );
      return listed.data.keys.sort();
    } catch (err) {
      if (err instanceof VaultError && err.status === 404) return [];
      throw err;
    }
  }

  it("adds by text and by QR photo, shows codes from the stored seeds, lists, and removes after a confirm", async () => {
    const ctx = telegramDm("6001");
    const typed = newSecret();
    const added = await handleMessage(ctx, `add github ${typed}`, deps);
    expect(plainText(added)).toMatch(/^Stored github, 6 digits every 30 s/);
    expect(added.deleteUserMessage).toBe(true);

    const scanned = newSecret();
    const photo = qrImage(`otpauth://totp/Shop:me?secret=${scanned}&digits=8`, {
      format: "jpeg",
      size: 800,
      quality: 80,
    });
    expect(plainText(await handleImage(ctx, photo, "shop", deps))).toMatch(/^Stored shop \(Shop, me\), 8 digits/);
    expect(await vaultLabels("6001")).toEqual(["github", "shop"]);

    for (const [label, seed, digits] of [
      ["github", typed, 6],
      ["shop", scanned, 8],
    ] as const) {
      const shown = await handleMessage(ctx, `code ${label}`, deps);
      const at = shown.code?.serverTime.getTime() ?? 0;
      expect(shown.code?.code).toBe(expectedCode(seed, at, { digits }));
      expectNoSecret(shown, { seed, code: shown.code?.code });
    }

    expect(plainText(await handleMessage(ctx, "list", deps))).toBe(
      ["Your labels", "github", "shop: Shop, me", "[github] [shop]"].join("\n"),
    );
    await handleMessage(ctx, "remove github", deps);
    expect(await vaultLabels("6001")).toEqual(["github", "shop"]);
    expect(plainText(await handleAction(ctx, { kind: "confirmRemove", label: "github" }, deps))).toBe(
      "Removed github.",
    );
    // KV v2 keeps the metadata of a deleted secret (versions for recovery); the core no longer serves it.
    expect(plainText(await handleMessage(ctx, "code github", deps))).toMatch(/^There is no label github you can read/);
    expect(plainText(await handleMessage(ctx, "list", deps))).toBe(
      ["Your labels", "shop: Shop, me", "[shop]"].join("\n"),
    );
  });
});
