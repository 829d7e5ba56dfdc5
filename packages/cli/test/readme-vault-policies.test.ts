import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { codesBetween, newSecret, startVault, type Vault, VaultError } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationUri } from "../../../services/totp-core/test/encodeMigrationPayload.js";
import { ExitCode } from "../src/exitCodes.js";
import { type CliFixture, startCliFixture } from "./cliFixture.js";
import type { CommandRun, RunOptions } from "./runCommand.js";
import { runTotpctl } from "./runTotpctl.js";

const README = fileURLToPath(new URL("../../../services/totp-core/README.md", import.meta.url));

/** The README's HCL block whose first line names `file`: the policy an operator copies. */
async function readmePolicy(file: string): Promise<string> {
  const readme = await readFile(README, "utf8");
  const block = readme.match(new RegExp(`\`\`\`hcl\\n(# ${file.replace(".", "\\.")}:[^]*?)\`\`\``))?.[1];
  if (!block) throw new Error(`services/totp-core/README.md has no \`\`\`hcl block starting with "# ${file}:"`);
  return block;
}

const MODES = [
  { store: "vault-kv", policyFile: "totp-core-kv.hcl" },
  { store: "vault-totp", policyFile: "totp-core-totp.hcl" },
] as const;

describe.each(MODES)("totp-core holding only the README's $policyFile ($store)", ({ store, policyFile }) => {
  let vault: Vault;
  let token: string;
  let fx: CliFixture;
  const seeds: string[] = [];
  const runs: CommandRun[] = [];
  const secret = () => {
    const s = newSecret();
    seeds.push(s);
    return s;
  };
  const totpctl = async (args: string[], options: RunOptions & { as?: string } = {}) => {
    const run = await runTotpctl(args, { ...options, env: fx.env(options.as ?? "admin") });
    runs.push(run);
    return run;
  };

  beforeAll(async () => {
    vault = await startVault();
    if (store === "vault-totp") await vault.enableTotp();
    await vault.writePolicy("totp-core", await readmePolicy(policyFile));
    // A token as an operator would make it: this policy, plus Vault's default one (lookup-self, renew-self).
    const created = await vault.request<{ auth: { client_token: string } }>("POST", "auth/token/create", {
      policies: ["totp-core"],
      ttl: "1h",
    });
    token = created.auth.client_token;
    fx = await startCliFixture({ TOTP_STORE: store, VAULT_ADDR: vault.addr, VAULT_TOKEN: token });
  });

  afterAll(async () => {
    try {
      const printed = runs.map((r) => r.stdout + r.stderr).join("\n") + fx.core.process.stdout + fx.core.process.stderr;
      for (const seed of seeds) expect(printed).not.toContain(seed);
      // A missing capability shows as UNAVAILABLE to the caller and as this line in the service log.
      expect(fx.core.process.stdout + fx.core.process.stderr).not.toContain("Vault denies this request");
    } finally {
      await fx?.close();
      await vault?.stop();
    }
  });

  it("is enough for every totpctl command, on labels of a service and of a chat user", async () => {
    const s = secret();
    const ok = (run: CommandRun) => expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    ok(await totpctl(["add", "github", "-"], { input: `otpauth://totp/GitHub:ops?secret=${secret()}&issuer=GitHub` }));
    ok(await totpctl(["add", "github", "-", "--overwrite"], { input: s }));
    expect((await totpctl(["add", "github", "-"], { input: secret() })).code).toBe(ExitCode.invalid);
    const before = Date.now();
    const code = await totpctl(["code", "github"]);
    ok(code);
    expect(codesBetween(s, before, Date.now())).toContain(code.stdout.trim());

    const decode = (base32: string) => new Uint8Array(OTPAuth.Secret.fromBase32(base32).buffer);
    ok(await totpctl(["import", "-"], { input: migrationUri([{ secret: decode(secret()), name: "a", type: 2 }]) }));
    expect((await totpctl(["ls"])).stdout.split("\n")).toEqual(expect.arrayContaining(["github", "a"]));

    const asUser = ["--on-behalf-of", "telegram:77"];
    ok(await totpctl([...asUser, "add", "mine", "-"], { as: "telegram-bot", input: secret() }));
    ok(await totpctl([...asUser, "code", "mine"], { as: "telegram-bot" }));
    expect((await totpctl([...asUser, "ls"], { as: "telegram-bot" })).stdout).toBe("mine\n");
    ok(await totpctl([...asUser, "rm", "mine", "--yes"], { as: "telegram-bot" }));

    ok(await totpctl(["rm", "github", "--yes"]));
    expect((await totpctl(["code", "github"])).code).toBe(ExitCode.notFound);
  });

  it("grants nothing beyond totp-core's own paths", async () => {
    const denied = async (method: string, path: string, body?: unknown) => {
      const err = await vault.request(method, path, body, { token }).catch((e: unknown) => e);
      expect(err, `${method} ${path}`).toBeInstanceOf(VaultError);
      expect((err as VaultError).status, `${method} ${path}`).toBe(403);
    };
    await vault.request("POST", "secret/data/elsewhere", { data: { x: "1" } });
    await denied("GET", "secret/data/elsewhere");
    await denied("DELETE", "secret/metadata/totp/shared/github");
    await denied("POST", "secret/destroy/totp/shared/github", { versions: [1] });
    await denied("GET", "sys/mounts");
    if (store === "vault-totp") await denied("LIST", "totp/keys");
  });
});
