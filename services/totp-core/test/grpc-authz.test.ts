import { Client, credentials, Metadata, status } from "@grpc/grpc-js";
import { createTotpClient, type TotpClient, TotpClientError } from "@totp-custody/client";
import {
  DeleteSeedRequest,
  GenerateCodeRequest,
  ImportSeedsRequest,
  ListLabelsRequest,
  RegisterSeedRequest,
  TotpServiceService,
} from "@totp-custody/contract";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationUri } from "./encodeMigrationPayload.js";
import { type CoreFixture, failure, startCoreFixture } from "./grpcHarness.js";

const uri = () => `otpauth://totp/x?secret=${new OTPAuth.Secret({ size: 20 }).base32}`;

/** Each RPC with a request aimed at a label that exists, for a given on_behalf_of. */
const RPCS: Record<string, (client: TotpClient, onBehalfOf: string) => Promise<unknown>> = {
  GenerateCode: (c, onBehalfOf) => c.generateCode({ label: "target", onBehalfOf }),
  RegisterSeed: (c, onBehalfOf) => c.registerSeed({ label: "target", onBehalfOf, overwrite: true, otpauthUri: uri() }),
  ListLabels: (c, onBehalfOf) => c.listLabels({ onBehalfOf }),
  DeleteSeed: (c, onBehalfOf) => c.deleteSeed({ label: "target", onBehalfOf }),
  ImportSeeds: (c, onBehalfOf) =>
    c.importSeeds({
      uri: migrationUri([{ secret: new Uint8Array(20).fill(7), name: "a", issuer: "b", type: 2 }]),
      onBehalfOf,
    }),
};

describe("who may call totp-core", () => {
  let fx: CoreFixture;
  const extra: TotpClient[] = [];
  const clientWith = (cert: { certPem: string; keyPem: string }) => {
    const client = createTotpClient({
      address: fx.core.address,
      ca: fx.pki.ca.certPem,
      cert: cert.certPem,
      key: cert.keyPem,
      maxAttempts: 1,
    });
    extra.push(client);
    return client;
  };
  /** A TotpClient over TLS without a client certificate (createTotpClient always sends one), for each row's call. */
  const clientWithoutCertificate = (): TotpClient => {
    const bare = new Client(fx.core.address, credentials.createSsl(Buffer.from(fx.pki.ca.certPem)));
    const unary = <Req, Res>(
      method: { path: string; requestSerialize: (r: Req) => Buffer; responseDeserialize: (b: Buffer) => Res },
      request: Req,
    ) =>
      new Promise<Res>((resolve, reject) =>
        bare.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          new Metadata(),
          { deadline: Date.now() + 5000 },
          (err, response) => (err ? reject(new TotpClientError(err.code, err.details)) : resolve(response as Res)),
        ),
      );
    const s = TotpServiceService;
    const client: TotpClient = {
      generateCode: (r) => unary(s.generateCode, GenerateCodeRequest.fromPartial(r)),
      registerSeed: (r) => unary(s.registerSeed, RegisterSeedRequest.fromPartial(r)),
      listLabels: (r = {}) => unary(s.listLabels, ListLabelsRequest.fromPartial(r)),
      deleteSeed: (r) => unary(s.deleteSeed, DeleteSeedRequest.fromPartial(r)),
      importSeeds: (r) => unary(s.importSeeds, ImportSeedsRequest.fromPartial(r)),
      // Authorization concerns TotpService only; health checks are tested in core-health.test.ts.
      checkHealth: () => Promise.reject(new Error("not part of the authorization tests")),
      close: () => bare.close(),
    };
    extra.push(client);
    return client;
  };

  beforeAll(async () => {
    fx = await startCoreFixture("file");
    // "target" exists for every identity that could see it: telegram:111 (personal), the admin (personal).
    await fx.client("telegram-bot").registerSeed({ label: "target", onBehalfOf: "telegram:111", otpauthUri: uri() });
    await fx.client("admin").registerSeed({ label: "target", otpauthUri: uri() });
    await fx.client("admin").registerSeed({ label: "team-aws", otpauthUri: uri() });
  });
  afterAll(async () => {
    for (const client of extra) client.close();
    await fx.close();
  });

  describe.each(Object.keys(RPCS))("%s", (rpc) => {
    const call = RPCS[rpc] as (client: TotpClient, onBehalfOf: string) => Promise<unknown>;

    it("is refused at the TLS handshake without a client certificate", async () => {
      // UNAVAILABLE, not the PERMISSION_DENIED a handler gives a caller without identity: no call got through.
      expect((await failure(call(clientWithoutCertificate(), ""))).code).toBe(status.UNAVAILABLE);
    });

    it("is refused at the TLS handshake with a certificate from a foreign CA", async () => {
      expect((await failure(call(clientWith(fx.pki.foreign), ""))).code).toBe(status.UNAVAILABLE);
    });

    it("is refused at the TLS handshake with an expired certificate", async () => {
      expect((await failure(call(clientWith(fx.pki.expired), ""))).code).toBe(status.UNAVAILABLE);
    });

    it("is refused for a certificate of our CA that the policy does not name", async () => {
      const err = await failure(call(fx.client("stranger"), ""));
      expect(err.code).toBe(status.PERMISSION_DENIED);
      expect(err.message).toContain("spiffe://totp.internal/stranger");
    });

    it("is refused when the Telegram bot speaks for a Zulip user", async () => {
      expect((await failure(call(fx.client("telegram-bot"), "zulip:42"))).code).toBe(status.PERMISSION_DENIED);
    });

    it("is refused when the Zulip bot speaks for a service", async () => {
      expect((await failure(call(fx.client("zulip-bot"), "service:admin"))).code).toBe(status.PERMISSION_DENIED);
    });

    it("is refused when a bot names nobody", async () => {
      expect((await failure(call(fx.client("telegram-bot"), ""))).code).toBe(status.INVALID_ARGUMENT);
    });

    it("is refused when a principal client sets on_behalf_of to someone else", async () => {
      expect((await failure(call(fx.client("deployer"), "telegram:111"))).code).toBe(status.PERMISSION_DENIED);
      expect((await failure(call(fx.client("admin"), "service:deployer"))).code).toBe(status.PERMISSION_DENIED);
    });
  });

  describe("user A and user B", () => {
    it("A cannot read, delete or list B's personal label: it answers like a missing one", async () => {
      const bot = fx.client("telegram-bot");
      expect((await failure(bot.generateCode({ label: "target", onBehalfOf: "telegram:222" }))).code).toBe(
        status.NOT_FOUND,
      );
      expect((await failure(bot.deleteSeed({ label: "target", onBehalfOf: "telegram:222" }))).code).toBe(
        status.NOT_FOUND,
      );
      expect((await bot.listLabels({ onBehalfOf: "telegram:222" })).labels).toEqual([]);
      // B's label still answers for B.
      expect((await bot.generateCode({ label: "target", onBehalfOf: "telegram:111" })).code).toMatch(/^\d{6}$/);
    });

    it("A registering the same name gets a label of A's own and leaves B's untouched", async () => {
      const bot = fx.client("telegram-bot");
      const before = await bot.listLabels({ onBehalfOf: "telegram:111" });
      const { info } = await bot.registerSeed({ label: "target", onBehalfOf: "telegram:333", otpauthUri: uri() });
      expect(info?.owner).toBe("telegram:333");
      const after = await bot.listLabels({ onBehalfOf: "telegram:111" });
      expect(after.labels.map((l) => [l.label, l.createdAt?.getTime()])).toEqual(
        before.labels.map((l) => [l.label, l.createdAt?.getTime()]),
      );
    });
  });

  describe("a shared label and someone outside its readers", () => {
    const outsider = "telegram:222";

    it("cannot get its code, which answers like a missing label", async () => {
      const err = await failure(fx.client("telegram-bot").generateCode({ label: "team-aws", onBehalfOf: outsider }));
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.message).toBe(
        (
          await failure(fx.client("telegram-bot").generateCode({ label: "no-such", onBehalfOf: outsider }))
        ).message.replace("no-such", "team-aws"),
      );
    });

    it("does not see it listed", async () => {
      const { labels } = await fx.client("telegram-bot").listLabels({ onBehalfOf: outsider });
      expect(labels.map((l) => l.label)).not.toContain("team-aws");
    });

    it("cannot delete it", async () => {
      const err = await failure(fx.client("telegram-bot").deleteSeed({ label: "team-aws", onBehalfOf: outsider }));
      expect(err.code).toBe(status.NOT_FOUND);
    });

    it("cannot register or overwrite it, directly or through an import", async () => {
      const bot = fx.client("telegram-bot");
      const direct = await failure(
        bot.registerSeed({ label: "team-aws", onBehalfOf: outsider, overwrite: true, otpauthUri: uri() }),
      );
      expect(direct.code).toBe(status.PERMISSION_DENIED);
      const imported = await bot.importSeeds({
        uri: migrationUri([{ secret: new Uint8Array(20).fill(9), name: "aws", issuer: "team", type: 2 }]),
        onBehalfOf: outsider,
        overwrite: true,
      });
      expect(imported.imported).toEqual([]);
      // Refused as any name the outsider may not register: the refusal does not say the name is a team label's.
      expect(imported.rejected[0]?.reason).toBe(`team-aws: ${direct.message}`);
      expect(direct.message).toMatch(/^label team-aws cannot be registered by this caller/);
      expect(direct.message).not.toContain("shared");
    });

    it("a reader of it may read but not manage it", async () => {
      const reader = fx.client("deployer");
      expect((await reader.generateCode({ label: "team-aws" })).code).toMatch(/^\d{6}$/);
      expect((await failure(reader.deleteSeed({ label: "team-aws" }))).code).toBe(status.PERMISSION_DENIED);
    });
  });
});
