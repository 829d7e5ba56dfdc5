import { rename, writeFile } from "node:fs/promises";
import { connectivityState, Metadata } from "@grpc/grpc-js";
import { status } from "@totp-custody/client";
import { GenerateCodeRequest, TotpServiceClient } from "@totp-custody/contract";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CLIENT_NAMES,
  type CoreFixture,
  eventually,
  failure,
  mtlsCredentials,
  startCoreFixture,
  TEST_POLICY,
} from "./grpcHarness.js";

const BOT = "spiffe://totp.internal/telegram-bot";
const uri = () => `otpauth://totp/x?secret=${new OTPAuth.Secret({ size: 20 }).base32}`;

/**
 * The README's answer to a stolen bot certificate: remove its line from the policy file, and the running core refuses
 * it, without a restart. A bad edit on the way must keep the last good policy (not reopen the door, not lock out
 * everyone).
 */
describe("a policy edit on a running core", () => {
  let fx: CoreFixture;
  let pid: number | undefined;

  /** Replaces the policy file the way an editor or a ConfigMap update does: whole, in one rename. */
  const writePolicy = async (text: string) => {
    const next = `${fx.core.policyFile}.next`;
    await writeFile(next, text);
    await rename(next, fx.core.policyFile);
  };
  /** The core that answers is the one started for this test: same pid, still running, started once. */
  const expectSameProcess = () => {
    expect(fx.core.process.pid).toBe(pid);
    expect(() => process.kill(pid as number, 0)).not.toThrow();
    expect(fx.core.process.stdout.match(/"totp-core ready"/g)).toHaveLength(1);
  };

  beforeAll(async () => {
    // The smallest interval the core accepts; fs.watch usually reloads sooner.
    fx = await startCoreFixture("file", { TOTP_POLICY_RELOAD_MS: "100" });
    pid = fx.core.process.pid;
  });
  afterAll(() => fx.close());

  /** A connection of `name` that has answered one call (refused or not), so that it is open, and READY. */
  const openConnection = async (name: (typeof CLIENT_NAMES)[number], onBehalfOf: string) => {
    const raw = new TotpServiceClient(fx.core.address, mtlsCredentials(fx, name));
    const request = GenerateCodeRequest.fromPartial({ label: "nothing-here", onBehalfOf });
    await new Promise((resolve) =>
      raw.generateCode(request, new Metadata(), { deadline: Date.now() + 10_000 }, resolve),
    );
    expect(raw.getChannel().getConnectivityState(false)).toBe(connectivityState.READY);
    return raw;
  };

  it("cuts off a bot whose line is removed, on the client (channel) it already has, without a restart", async () => {
    const bot = fx.client("telegram-bot");
    await bot.registerSeed({ label: "mine", onBehalfOf: "telegram:111", otpauthUri: uri() });
    expect((await bot.generateCode({ label: "mine", onBehalfOf: "telegram:111" })).code).toMatch(/^\d{6}$/);
    await fx.client("zulip-bot").registerSeed({ label: "theirs", onBehalfOf: "zulip:42", otpauthUri: uri() });
    // Connections open before the edit and idle after it: the removed bot's is closed by the core, which does not
    // wait for it to send a call (or to come back after a keepalive); the other bot's stays.
    const removedIdle = await openConnection("telegram-bot", "telegram:111");
    const keptIdle = await openConnection("zulip-bot", "zulip:42");

    const withoutBot = TEST_POLICY.replace(`  ${BOT}: { actsFor: telegram }\n`, "");
    expect(withoutBot).not.toContain(BOT);
    await writePolicy(withoutBot);

    // The same client object, so the same channel: the refusal must not wait for the bot to reconnect, which a
    // stolen certificate's holder would simply not do.
    let refusal: { code: number; message: string } | undefined;
    await eventually(async () => {
      refusal = await bot.generateCode({ label: "mine", onBehalfOf: "telegram:111" }).then(
        () => undefined,
        (err: { code: number; message: string }) => err,
      );
      return refusal !== undefined;
    }, "the bot refused after its line was removed");
    expect(refusal?.code).toBe(status.PERMISSION_DENIED);
    expect(refusal?.message).toBe(`client certificate ${BOT} is not allowed`);
    expect(fx.core.process.stdout).toContain('"policy reloaded"');
    await eventually(
      () => removedIdle.getChannel().getConnectivityState(false) !== connectivityState.READY,
      "the removed bot's open connection closed by the core",
    );
    expect(keptIdle.getChannel().getConnectivityState(false)).toBe(connectivityState.READY);
    removedIdle.close();
    keptIdle.close();
    // Only that line went: the other bot still works.
    expect((await fx.client("zulip-bot").generateCode({ label: "theirs", onBehalfOf: "zulip:42" })).code).toMatch(
      /^\d{6}$/,
    );
    expectSameProcess();
  });

  it("keeps the last good policy when the file becomes invalid YAML, and logs that it rejected it", async () => {
    const rejected = /policy file rejected; the previous policy stays in force/;
    expect(fx.core.process.stdout).not.toMatch(rejected);
    await writePolicy("clients: [unclosed\n");
    await fx.core.process.waitForOutput(rejected);
    const line = JSON.parse(fx.core.process.stdout.split("\n").find((l) => rejected.test(l)) as string);
    expect(line.err.message).toContain(`${fx.core.policyFile}: YAML syntax error at line 2`);

    // The last good policy is the one without the Telegram bot: it stays refused, everyone else is served.
    const bot = fx.client("telegram-bot");
    expect((await failure(bot.generateCode({ label: "mine", onBehalfOf: "telegram:111" }))).code).toBe(
      status.PERMISSION_DENIED,
    );
    expect((await fx.client("zulip-bot").generateCode({ label: "theirs", onBehalfOf: "zulip:42" })).code).toMatch(
      /^\d{6}$/,
    );
    expect((await fx.client("admin").listLabels({})).labels).toEqual([]);
    expect((await fx.client("deployer").listLabels({})).labels).toEqual([]);
    expectSameProcess();
  });
});
