import { describe, expect, it } from "vitest";
import { TotpError } from "../src/errors.js";
import { canRegisterPersonal, labelAccess, readableShared } from "../src/policy/access.js";
import { parsePolicy } from "../src/policy/parsePolicy.js";
import { type Caller, resolveCaller } from "../src/policy/resolveCaller.js";

const TELEGRAM_BOT = "spiffe://totp.internal/telegram-bot";
const ZULIP_BOT = "spiffe://totp.internal/zulip-bot";
const DEPLOYER = "spiffe://totp.internal/deployer";
const ADMIN = "spiffe://totp.internal/admin";

const policy = parsePolicy(`
clients:
  ${TELEGRAM_BOT}: { actsFor: telegram }
  ${ZULIP_BOT}:    { actsFor: zulip }
  ${DEPLOYER}:     { principal: service:deployer }
  ${ADMIN}:        { principal: service:admin, admin: true }
groups:
  ops: [telegram:111, zulip:42, service:deployer]
  leads: [telegram:333]
shared:
  aws-root: { readers: [group:ops], managers: [service:admin] }
  github: { readers: [telegram:111], managers: [group:leads] }
  vpn: { managers: [zulip:42] }
selfService: true
`);

/** The TotpError `act` throws. */
function refusal(act: () => unknown): TotpError {
  try {
    act();
  } catch (err) {
    expect(err).toBeInstanceOf(TotpError);
    return err as TotpError;
  }
  throw new Error("not refused");
}

const user = (principal: string): Caller => resolveCaller(policy, TELEGRAM_BOT, principal, Date.now());
const zulipUser = (principal: string): Caller => resolveCaller(policy, ZULIP_BOT, principal, Date.now());
const deployer = resolveCaller(policy, DEPLOYER, "", Date.now());
const admin = resolveCaller(policy, ADMIN, "", Date.now());

describe("resolveCaller", () => {
  it("lets a bot act for a user of its platform", () => {
    expect(resolveCaller(policy, TELEGRAM_BOT, "telegram:111", Date.now())).toEqual({
      clientId: TELEGRAM_BOT,
      principal: "telegram:111",
      admin: false,
      forUser: true,
    });
    expect(resolveCaller(policy, ZULIP_BOT, "zulip:42", Date.now()).principal).toBe("zulip:42");
  });

  it("lets a principal client act as itself, with on_behalf_of empty or its own principal", () => {
    expect(resolveCaller(policy, DEPLOYER, "", Date.now())).toEqual({
      clientId: DEPLOYER,
      principal: "service:deployer",
      admin: false,
      forUser: false,
    });
    expect(resolveCaller(policy, DEPLOYER, "service:deployer", Date.now()).principal).toBe("service:deployer");
    expect(resolveCaller(policy, ADMIN, "", Date.now()).admin).toBe(true);
  });

  it.each([
    [
      "no client identity",
      undefined,
      "",
      /client certificate with exactly one URI SAN, a spiffe:\/\/ one, is required/,
    ],
    ["an empty client identity", "", "", /client certificate with exactly one URI SAN, a spiffe:\/\/ one, is required/],
    [
      "an unknown client",
      "spiffe://totp.internal/stranger",
      "telegram:111",
      /^client certificate spiffe:\/\/totp.internal\/stranger is not allowed$/,
    ],
    ["a client of another trust domain", "spiffe://evil.example/telegram-bot", "telegram:111", /is not allowed/],
    [
      "the telegram bot acting for a zulip user",
      TELEGRAM_BOT,
      "zulip:42",
      /acts for telegram users only, not for zulip:42/,
    ],
    ["the zulip bot acting for a telegram user", ZULIP_BOT, "telegram:111", /acts for zulip users only/],
    ["a bot acting for a service", TELEGRAM_BOT, "service:admin", /acts for telegram users only/],
    ["a principal client acting for another service", DEPLOYER, "service:admin", /acts as service:deployer only/],
    ["a principal client acting for a user", DEPLOYER, "telegram:111", /may not set on_behalf_of to anyone else/],
    ["a principal client sending a malformed on_behalf_of", DEPLOYER, "deployer", /acts as service:deployer only/],
    ["the admin client acting for a user", ADMIN, "telegram:111", /acts as service:admin only/],
  ])("refuses %s with PERMISSION_DENIED", (_, clientId, onBehalfOf, message) => {
    const err = refusal(() => resolveCaller(policy, clientId, onBehalfOf, Date.now()));
    expect(err.code).toBe("PERMISSION_DENIED");
    expect(err.message).toMatch(message);
  });

  it("refuses a certificate issued before the identity's issuedAfter, and accepts one issued at it or later", () => {
    const at = "2026-12-02T18:00:00Z";
    const revoking = parsePolicy(`clients: { "${DEPLOYER}": { principal: service:deployer, issuedAfter: "${at}" } }`);
    const err = refusal(() => resolveCaller(revoking, DEPLOYER, "", Date.parse(at) - 1000));
    expect(err.code).toBe("PERMISSION_DENIED");
    expect(err.message).toBe(
      `client certificate ${DEPLOYER} issued 2026-12-02T17:59:59.000Z is revoked: the policy accepts only ` +
        "certificates issued from 2026-12-02T18:00:00.000Z on",
    );
    expect(resolveCaller(revoking, DEPLOYER, "", Date.parse(at)).principal).toBe("service:deployer");
  });

  it.each([
    [
      "the telegram bot without on_behalf_of",
      "",
      /on_behalf_of: required for client .*telegram-bot, expected telegram:<user id>/,
    ],
    ["a telegram id that is not a number", "telegram:bob", /on_behalf_of: a telegram id is a user number/],
    ["a principal without a platform", "111", /on_behalf_of: expected <platform>:<id>/],
    ["a group instead of a principal", "group:ops", /on_behalf_of: expected <platform>:<id>/],
  ])("refuses %s with INVALID_ARGUMENT (a bug in the bot's request)", (_, onBehalfOf, message) => {
    const err = refusal(() => resolveCaller(policy, TELEGRAM_BOT, onBehalfOf, Date.now()));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(message);
  });
});

describe("labelAccess", () => {
  it("makes any label not in the policy a personal label of the caller, readable and manageable by them", () => {
    expect(labelAccess(policy, user("telegram:111"), "gmail")).toEqual({
      ref: { label: "gmail", owner: { shared: false, principal: "telegram:111" } },
      canRead: true,
      canManage: true,
    });
  });

  it("never reaches another principal's personal label: the same name resolves to the caller's own ref", () => {
    // B registered "gmail"; A asking for "gmail" gets A's own ref, which does not hold B's label. Refs are per
    // owner, so at this level B's label is unreachable for A (the store answers NOT_FOUND for A's empty ref).
    const ofB = labelAccess(policy, user("telegram:222"), "gmail");
    const ofA = labelAccess(policy, user("telegram:111"), "gmail");
    expect(ofA.ref.owner).toEqual({ shared: false, principal: "telegram:111" });
    expect(ofA.ref).not.toEqual(ofB.ref);
    // Neither the platform nor the admin flag changes that.
    expect(labelAccess(policy, zulipUser("zulip:222"), "gmail").ref).not.toEqual(ofB.ref);
    expect(labelAccess(policy, admin, "gmail").ref.owner).toEqual({ shared: false, principal: "service:admin" });
  });

  it("makes a label shared by the policy alone, for everyone alike", () => {
    for (const caller of [user("telegram:111"), user("telegram:999"), deployer, admin]) {
      expect(labelAccess(policy, caller, "aws-root").ref).toEqual({ label: "aws-root", owner: { shared: true } });
    }
  });

  // caller, shared label, may read, may manage
  it.each([
    ["telegram:111 (group ops)", user("telegram:111"), "aws-root", true, false],
    ["zulip:42 (group ops)", zulipUser("zulip:42"), "aws-root", true, false],
    ["service:deployer (group ops)", deployer, "aws-root", true, false],
    ["telegram:999 (no member)", user("telegram:999"), "aws-root", false, false],
    ["zulip:111 (same id, other platform)", zulipUser("zulip:111"), "aws-root", false, false],
    ["telegram:42 (same id, other platform)", user("telegram:42"), "aws-root", false, false],
    ["service:admin (admin)", admin, "aws-root", true, true],
    ["telegram:111 (named reader)", user("telegram:111"), "github", true, false],
    ["telegram:333 (manager by group leads)", user("telegram:333"), "github", true, true],
    ["zulip:42 (not a reader of github)", zulipUser("zulip:42"), "github", false, false],
    ["service:admin (admin, not named)", admin, "github", true, true],
    ["zulip:42 (manager only, so reader too)", zulipUser("zulip:42"), "vpn", true, true],
    ["telegram:111 (no reader of vpn)", user("telegram:111"), "vpn", false, false],
  ])("%s on %s: read %s, manage %s", (_, caller, label, canRead, canManage) => {
    const access = labelAccess(policy, caller, label);
    expect({ canRead: access.canRead, canManage: access.canManage }).toEqual({ canRead, canManage });
  });
});

describe("canRegisterPersonal", () => {
  const closed = parsePolicy(`
clients:
  ${TELEGRAM_BOT}: { actsFor: telegram }
  ${ADMIN}: { principal: service:admin, admin: true }
`);

  it("follows selfService, and always lets an admin", () => {
    expect(canRegisterPersonal(policy, user("telegram:999"))).toBe(true);
    expect(canRegisterPersonal(closed, resolveCaller(closed, TELEGRAM_BOT, "telegram:999", Date.now()))).toBe(false);
    expect(canRegisterPersonal(closed, resolveCaller(closed, ADMIN, "", Date.now()))).toBe(true);
  });
});

describe("readableShared", () => {
  it.each([
    ["telegram:111", user("telegram:111"), ["aws-root", "github"]],
    ["zulip:42", zulipUser("zulip:42"), ["aws-root", "vpn"]],
    ["telegram:333", user("telegram:333"), ["github"]],
    ["service:deployer", deployer, ["aws-root"]],
    ["telegram:999", user("telegram:999"), []],
    ["the admin", admin, ["aws-root", "github", "vpn"]],
  ])("lists what %s may read, sorted", (_, caller, labels) => {
    expect(readableShared(policy, caller)).toEqual(labels);
  });

  it("agrees with labelAccess for every caller and shared label", () => {
    const callers = [user("telegram:111"), user("telegram:333"), zulipUser("zulip:42"), deployer, admin];
    for (const caller of callers) {
      const viaAccess = policy.sharedLabels.filter((label) => labelAccess(policy, caller, label).canRead);
      expect(readableShared(policy, caller)).toEqual(viaAccess);
    }
  });
});
