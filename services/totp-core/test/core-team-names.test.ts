import { rename, writeFile } from "node:fs/promises";
import { status } from "@grpc/grpc-js";
import { type AuditedVault, newSecret, startVault, type Vault } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, eventually, failure, startCoreFixture, TEST_POLICY } from "./grpcHarness.js";

/** A principal in no group: it may read no team label. */
const OUTSIDER = "telegram:999";
const TEAM = "team-aws";
const otpauth = () => `otpauth://totp/x?secret=${newSecret()}`;

/** A refusal with its label name taken out: what is left must not tell a team name from another. */
const shape = (err: { code: number; message: string }, label: string) => ({
  code: err.code,
  message: err.message.replaceAll(label, "<label>"),
});

describe("team label names, to a caller who may read no team label", () => {
  let vault: Vault & AuditedVault;
  let fx: CoreFixture;
  beforeAll(async () => {
    vault = await startVault({ auditLog: true });
    fx = await startCoreFixture("vault-kv", {}, { vault });
    await fx.client("admin").registerSeed({ label: TEAM, otpauthUri: otpauth() });
  });
  afterAll(() => fx?.close());

  /** The Vault requests (KV reads of the label folder) a call makes, by the OpenBao audit log. */
  const vaultRequestsOf = async (call: () => Promise<unknown>) => {
    const count = () => vault.countRequests((e) => e.request?.path?.startsWith("secret/") === true);
    const before = await count();
    await call().catch(() => {});
    return (await count()) - before;
  };

  it.each([
    ["GenerateCode", (label: string) => fx.client("telegram-bot").generateCode({ label, onBehalfOf: OUTSIDER })],
    ["DeleteSeed", (label: string) => fx.client("telegram-bot").deleteSeed({ label, onBehalfOf: OUTSIDER })],
  ] as const)("%s answers a team name exactly as a missing label, after as many Vault requests", async (_, call) => {
    const team = await failure(call(TEAM));
    const missing = await failure(call("no-such-label"));
    expect(team.code).toBe(status.NOT_FOUND);
    expect(shape(team, TEAM)).toEqual(shape(missing, "no-such-label"));
    // Absent labels are never cached, so each call asks Vault again.
    const teamRequests = await vaultRequestsOf(() => call(TEAM));
    const missingRequests = await vaultRequestsOf(() => call("no-such-label"));
    expect(missingRequests).toBeGreaterThan(0);
    expect(teamRequests).toBe(missingRequests);
  });

  it("RegisterSeed refuses a team name without naming it shared, as any name the caller may not register", async () => {
    const tg = fx.client("telegram-bot");
    const team = await failure(tg.registerSeed({ label: TEAM, onBehalfOf: OUTSIDER, otpauthUri: otpauth() }));
    expect(team.code).toBe(status.PERMISSION_DENIED);
    expect(team.message).not.toMatch(/shared|team label .*exists/);
    // With self-service off, every personal name is refused: a team name must get the very same answer.
    const next = `${fx.core.policyFile}.next`;
    await writeFile(next, TEST_POLICY.replace("selfService: true", "selfService: false"));
    await rename(next, fx.core.policyFile);
    let free: { code: number; message: string } | undefined;
    await eventually(async () => {
      free = await tg.registerSeed({ label: "free-name", onBehalfOf: OUTSIDER, otpauthUri: otpauth() }).then(
        () => undefined,
        (err: { code: number; message: string }) => err,
      );
      // Until the new policy applies, the name is registered (then exists): only the new policy refuses it.
      return free?.code === status.PERMISSION_DENIED;
    }, "the policy without self-service applies");
    expect(free && shape(free, "free-name")).toEqual(shape(team, TEAM));
    // A reader of the team label knows it already, and is told why.
    const reader = await failure(tg.registerSeed({ label: TEAM, onBehalfOf: "telegram:111", otpauthUri: otpauth() }));
    expect(reader.message).toBe(`label ${TEAM} is shared: only its managers may register it`);
  });
});
