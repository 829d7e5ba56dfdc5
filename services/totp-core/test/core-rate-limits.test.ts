import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { TotpServiceClient } from "@totp-custody/contract";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, failure, mtlsCredentials, startCoreFixture } from "./grpcHarness.js";

// Small limits, so a few calls reach them. Each bucket holds one minute's worth and refills over a minute: a refill
// of one token takes seconds, far longer than the bursts below.
const CODES_PER_LABEL = 3;
const REQUESTS_PER_PRINCIPAL = 8;
const WRITES_PER_PRINCIPAL = 2;
const DELETES_PER_PRINCIPAL = 1;

const uri = () => `otpauth://totp/x?secret=${new OTPAuth.Secret({ size: 20 }).base32}`;

/** Asserts the refusal a client sees: RESOURCE_EXHAUSTED, the delay as metadata and in the message. */
function expectRetryDelay(err: { code: number; message: string; retryAfterMs: number | undefined }, max: number) {
  expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
  expect(err.retryAfterMs).toBeGreaterThan(0);
  expect(err.retryAfterMs).toBeLessThanOrEqual(max);
  const seconds = Number(err.message.match(/try again in (\d+) s/)?.[1]);
  expect(seconds).toBe(Math.ceil((err.retryAfterMs ?? 0) / 1000));
}

describe("rate limits end to end", () => {
  let fx: CoreFixture;
  beforeAll(async () => {
    fx = await startCoreFixture("file", {
      TOTP_RATE_CODES_PER_LABEL: String(CODES_PER_LABEL),
      TOTP_RATE_REQUESTS_PER_PRINCIPAL: String(REQUESTS_PER_PRINCIPAL),
      TOTP_RATE_WRITES_PER_PRINCIPAL: String(WRITES_PER_PRINCIPAL),
      TOTP_RATE_DELETES_PER_PRINCIPAL: String(DELETES_PER_PRINCIPAL),
    });
  });
  afterAll(() => fx.close());

  it("limits codes per label, with the delay in retry-after-ms trailing metadata and in the message", async () => {
    const tg = fx.client("telegram-bot");
    const alice = "telegram:1001";
    await tg.registerSeed({ label: "limited", onBehalfOf: alice, otpauthUri: uri() });
    await tg.registerSeed({ label: "other", onBehalfOf: alice, otpauthUri: uri() });
    for (let i = 0; i < CODES_PER_LABEL; i++) await tg.generateCode({ label: "limited", onBehalfOf: alice });
    // One minute holds CODES_PER_LABEL codes: one more costs 60 s / CODES_PER_LABEL at most.
    expectRetryDelay(await failure(tg.generateCode({ label: "limited", onBehalfOf: alice })), 60_000 / CODES_PER_LABEL);

    // The trailer itself, as any gRPC client sees it, not only through our SDK.
    const raw = new TotpServiceClient(fx.core.address, mtlsCredentials(fx, "telegram-bot"));
    const err = await new Promise<ServiceError | null>((resolve) =>
      raw.generateCode({ label: "limited", onBehalfOf: alice }, new Metadata(), (e) => resolve(e)),
    );
    raw.close();
    expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(Number(err?.metadata.get("retry-after-ms")[0])).toBeGreaterThan(0);

    // Another label of the same principal still has its own allowance. The two refusals above spent principal
    // tokens (they were requests): 8 of 8 are spent after this call.
    expect((await tg.generateCode({ label: "other", onBehalfOf: alice })).code).toMatch(/^\d{6}$/);
  });

  it("limits every request of a principal, and only that principal", async () => {
    // One bot, one certificate, one connection, speaking for many users: one user over the limit must not lock the
    // others out, so limits follow the principal, not the certificate or the connection.
    const tg = fx.client("telegram-bot");
    const busy = "telegram:1002";
    for (let i = 0; i < REQUESTS_PER_PRINCIPAL; i++) await tg.listLabels({ onBehalfOf: busy });
    expectRetryDelay(await failure(tg.listLabels({ onBehalfOf: busy })), 60_000 / REQUESTS_PER_PRINCIPAL);
    await tg.listLabels({ onBehalfOf: "telegram:1004" });
    // A service over its limit leaves other services their allowance too.
    const deployer = fx.client("deployer");
    for (let i = 0; i < REQUESTS_PER_PRINCIPAL; i++) await deployer.listLabels({});
    expectRetryDelay(await failure(deployer.listLabels({})), 60_000 / REQUESTS_PER_PRINCIPAL);
    await fx.client("admin").listLabels({});
  });

  it("limits registrations and deletions separately", async () => {
    const tg = fx.client("telegram-bot");
    const bob = "telegram:1003";
    for (let i = 0; i < WRITES_PER_PRINCIPAL; i++) {
      await tg.registerSeed({ label: `w${i}`, onBehalfOf: bob, otpauthUri: uri() });
    }
    expectRetryDelay(
      await failure(tg.registerSeed({ label: "w-over", onBehalfOf: bob, otpauthUri: uri() })),
      60_000 / WRITES_PER_PRINCIPAL,
    );
    // Writes spent do not count against deletions.
    await tg.deleteSeed({ label: "w0", onBehalfOf: bob });
    const refused = await failure(tg.deleteSeed({ label: "w1", onBehalfOf: bob }));
    expectRetryDelay(refused, 60_000 / DELETES_PER_PRINCIPAL);
    // The refused deletion deleted nothing.
    expect((await tg.listLabels({ onBehalfOf: bob })).labels.map((l) => l.label)).toEqual(["w1"]);
  });
});
