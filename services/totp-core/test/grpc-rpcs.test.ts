import { randomBytes } from "node:crypto";
import { Algorithm, Encoding, type SeedSpec, status, type TotpClient } from "@totp-custody/client";
import { expectedCode, newSecret } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeMigrationPayload, migrationUri } from "./encodeMigrationPayload.js";
import { type CLIENT_NAMES, type CoreFixture, failure, type StoreKind, startCoreFixture } from "./grpcHarness.js";
import { secretTraces, tracesIn } from "./secretTraces.js";

const STEAM_ALPHABET = /^[23456789BCDFGHJKMNPQRTVWXY]{5}$/;

/** A generated seed, as base32 text and as bytes. */
interface Seed {
  base32: string;
  bytes: Uint8Array;
}
type BadCall = (c: TotpClient, seed: Seed) => Promise<unknown>;

/** RegisterSeed of a spec that is valid but for `change`, under `label`. */
const registering =
  (change: Partial<SeedSpec> | ((seed: Seed) => Partial<SeedSpec>), label = "refused"): BadCall =>
  (c, seed) =>
    c.registerSeed({
      label,
      spec: {
        secretBase32: seed.base32,
        algorithm: Algorithm.ALGORITHM_SHA1,
        digits: 6,
        period: 30,
        issuer: "Issuer",
        account: "account",
        encoding: Encoding.ENCODING_NUMERIC,
        ...(typeof change === "function" ? change(seed) : change),
      },
    });
const importing =
  (uri: (seed: Seed) => string, labelPrefix = ""): BadCall =>
  (c, seed) =>
    c.importSeeds({ uri: uri(seed), labelPrefix });
const payload = (bytes: Uint8Array | number[]) =>
  `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(bytes).toString("base64"))}`;
const exportOf = ({ bytes }: Seed) => migrationUri([{ secret: bytes, name: "alice", issuer: "Example", type: 2 }]);

/**
 * Bad inputs, each with the name its message must give the field at fault: the request field, or for an import
 * URI the part of it at fault. Limits are the contract's: labels 48 characters, issuer and account 128, periods 1 to
 * 86400 s. Digits or period 0 are not bad: the contract reads 0 as the default (checked below).
 */
const BAD_INPUTS: [string, string, BadCall][] = [
  [
    "a non-base32 character",
    "secret_base32",
    registering((s) => ({ secretBase32: `${s.base32.slice(0, 7)}1${s.base32.slice(8)}` })),
  ],
  ["an empty secret", "secret_base32", registering({ secretBase32: "" })],
  ["a secret of 5 bytes", "secret_base32", registering((s) => ({ secretBase32: s.base32.slice(0, 8) }))],
  ["7 digits", "digits", registering({ digits: 7 })],
  ["9 digits", "digits", registering({ digits: 9 })],
  ["5 digits for numeric codes", "digits", registering({ digits: 5 })],
  ["Steam with 6 digits", "digits", registering({ digits: 6, encoding: Encoding.ENCODING_STEAM })],
  ["algorithm enum 4", "algorithm", registering({ algorithm: 4 as Algorithm })],
  ["algorithm enum 99", "algorithm", registering({ algorithm: 99 as Algorithm })],
  ["encoding enum 3", "encoding", registering({ encoding: 3 as Encoding })],
  ["a period of 86401 s", "period", registering({ period: 86_401 })],
  ["a period of 2^32-1 s", "period", registering({ period: 2 ** 32 - 1 })],
  ["an issuer of 129 characters", "issuer", registering({ issuer: "i".repeat(129) })],
  ["an issuer with a line break", "issuer", registering({ issuer: "Git\nHub" })],
  ["an issuer with a C1 control character", "issuer", registering({ issuer: "Git\u009bHub" })],
  ["an account of 129 characters", "account", registering({ account: "a".repeat(129) })],
  ["an account with a NUL", "account", registering({ account: "ops\u0000" })],
  ["an account with DEL", "account", registering({ account: "ops\u007f" })],
  ["an issuer with a right-to-left override", "issuer", registering({ issuer: "moc.lapyap\u202e" })],
  ["an issuer with a first-strong isolate", "issuer", registering({ issuer: "Git\u2068Hub" })],
  ["an account with a right-to-left mark", "account", registering({ account: "ops\u200f" })],
  ["an account with an Arabic letter mark", "account", registering({ account: "\u061cops" })],
  ["an empty label", "label", registering({}, "")],
  ["a label of 49 characters", "label", registering({}, "l".repeat(49))],
  ["an upper-case label", "label", registering({}, "gitHub")],
  ["a label with a space", "label", registering({}, "git hub")],
  ["a label starting with '-'", "label", registering({}, "-x")],
  ["a label with '/'", "label", registering({}, "a/b")],
  ["a label with '..'", "label", registering({}, "a..b")],
  ["a non-ASCII label", "label", registering({}, "caf\u00e9")],
  ["an upper-case label_prefix", "label_prefix", importing(exportOf, "GA-")],
  ["a label_prefix with a space", "label_prefix", importing(exportOf, "ga ")],
  ["a label_prefix of 33 characters", "label_prefix", importing(exportOf, "p".repeat(33))],
  ["a label_prefix with '..'", "label_prefix", importing(exportOf, "x../")],
  ["an import URI that is not a URI", "URI", importing(() => "hello")],
  ["a single otpauth URI to import", "URI", importing((s) => `otpauth://totp/x?secret=${s.base32}`)],
  ["an import URI on another host", "URI", importing((s) => exportOf(s).replace("//offline", "//online"))],
  ["an import URI without data", "data parameter", importing(() => "otpauth-migration://offline")],
  ["an import URI with empty data", "data parameter", importing(() => payload([]))],
  ["an import URI with a broken escape", "data parameter", importing(() => `${payload([])}%%%`)],
  ["an import URI whose data is not base64", "data parameter", importing(() => `${payload([])}!!!!`)],
  [
    "an export cut short",
    "data parameter",
    importing((s) => payload(encodeMigrationPayload([{ secret: s.bytes, type: 2 }]).subarray(0, 10))),
  ],
  ["an import URI whose data is not an export", "data parameter", importing(() => payload([0xff, 0xff, 0xff]))],
  ["a DeleteSeed of an empty label", "label", (c) => c.deleteSeed({ label: "" })],
  ["a DeleteSeed of a label climbing out", "label", (c) => c.deleteSeed({ label: "../etc" })],
  ["a DeleteSeed of a label of 49 characters", "label", (c) => c.deleteSeed({ label: "d".repeat(49) })],
  ["a GenerateCode of an upper-case label", "label", (c) => c.generateCode({ label: "GitHub" })],
];

describe.each<StoreKind>(["file", "vault-kv", "vault-totp"])("totp-core RPCs on the %s store", (kind) => {
  let fx: CoreFixture;
  const seedsUsed: (string | Uint8Array)[] = [];
  const secret = (bytes?: number) => {
    const s = newSecret(bytes);
    seedsUsed.push(s);
    return s;
  };
  const codesSeen: string[] = [];
  /** A client whose code answers are kept for the canary. */
  const client = (name: (typeof CLIENT_NAMES)[number]): TotpClient => {
    const c = fx.client(name);
    return {
      ...c,
      generateCode: async (request, options) => {
        const answer = await c.generateCode(request, options);
        codesSeen.push(answer.code, answer.nextCode);
        return answer;
      },
    };
  };
  const admin = () => client("admin");
  const tg = () => client("telegram-bot");

  beforeAll(async () => {
    fx = await startCoreFixture(kind);
  });
  afterAll(async () => {
    try {
      // The canary: no seed used during the run, registered or refused, may appear anywhere in the service's output
      // in any form the code holds it in; nor may a code the service answered.
      const output = fx.core.process.stdout + fx.core.process.stderr;
      expect(seedsUsed.length).toBeGreaterThan(5);
      expect(tracesIn(output, seedsUsed.flatMap(secretTraces))).toEqual([]);
      const codes = codesSeen.filter((code) => code !== "");
      expect(codes.length).toBeGreaterThan(5);
      // As whole tokens: inside a timestamp or a request id, any 6 digits would turn up sooner or later.
      expect(codes.filter((code) => new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`).test(output))).toEqual([]);
    } finally {
      await fx.close();
    }
  });

  it("registers an otpauth URI and answers its code with the whole time window", async () => {
    const s = secret();
    const registered = await admin().registerSeed({
      label: "github",
      otpauthUri: `otpauth://totp/GitHub:ops%40example.com?secret=${s}&issuer=GitHub`,
    });
    expect(registered.info).toMatchObject({
      label: "github",
      issuer: "GitHub",
      account: "ops@example.com",
      algorithm: Algorithm.ALGORITHM_SHA1,
      digits: 6,
      period: 30,
      encoding: Encoding.ENCODING_NUMERIC,
      owner: "service:admin",
      shared: false,
    });
    expect(registered.info?.createdAt).toBeInstanceOf(Date);

    const answer = await admin().generateCode({ label: "github" });
    const at = answer.serverTime?.getTime() ?? 0;
    expect(answer.code).toBe(expectedCode(s, at, {}));
    expect(answer.digits).toBe(6);
    expect(answer.period).toBe(30);
    expect(answer.issuer).toBe("GitHub");
    expect(answer.account).toBe("ops@example.com");
    const from = answer.validFrom?.getTime() ?? Number.NaN;
    const until = answer.validUntil?.getTime() ?? Number.NaN;
    expect(from % 30_000).toBe(0);
    expect(until - from).toBe(30_000);
    expect(from).toBeLessThanOrEqual(at);
    expect(at).toBeLessThan(until);
    if (kind === "vault-totp") expect(answer.nextCode).toBe("");
    else expect(answer.nextCode).toBe(expectedCode(s, until, {}));
  });

  it("registers a seed given field by field, with SHA-256, 8 digits and a 60 s period", async () => {
    const s = secret(32);
    const { info } = await admin().registerSeed({
      label: "bank",
      spec: {
        secretBase32: s.toLowerCase().replace(/(.{4})/g, "$1 "),
        algorithm: Algorithm.ALGORITHM_SHA256,
        digits: 8,
        period: 60,
        issuer: "Bank",
        account: "treasury",
        encoding: Encoding.ENCODING_NUMERIC,
      },
    });
    expect(info).toMatchObject({ algorithm: Algorithm.ALGORITHM_SHA256, digits: 8, period: 60 });
    const answer = await admin().generateCode({ label: "bank" });
    expect(answer.code).toBe(
      expectedCode(s, answer.serverTime?.getTime() ?? 0, { algorithm: "SHA256", digits: 8, period: 60 }),
    );
  });

  it("serves Steam Guard codes, or says clearly that the TOTP engine cannot", async () => {
    const call = admin().registerSeed({
      label: "steam",
      spec: {
        secretBase32: secret(),
        algorithm: 0,
        digits: 0,
        period: 0,
        issuer: "Steam",
        account: "",
        encoding: Encoding.ENCODING_STEAM,
      },
    });
    if (kind === "vault-totp") {
      const err = await failure(call);
      expect(err.code).toBe(status.FAILED_PRECONDITION);
      expect(err.message).toMatch(/Steam/);
      return;
    }
    expect((await call).info?.digits).toBe(5);
    const answer = await admin().generateCode({ label: "steam" });
    expect(answer.code).toMatch(STEAM_ALPHABET);
    expect(answer.nextCode).toMatch(STEAM_ALPHABET);
  });

  it("refuses to replace a label unless asked to overwrite", async () => {
    const first = secret();
    const second = secret();
    await admin().registerSeed({ label: "replace-me", otpauthUri: `otpauth://totp/x?secret=${first}` });
    const err = await failure(
      admin().registerSeed({ label: "replace-me", otpauthUri: `otpauth://totp/x?secret=${second}` }),
    );
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect((await admin().generateCode({ label: "replace-me" })).code).toBe(
      expectedCode(first, (await admin().generateCode({ label: "replace-me" })).serverTime?.getTime() ?? 0, {}),
    );
    await admin().registerSeed({
      label: "replace-me",
      overwrite: true,
      otpauthUri: `otpauth://totp/x?secret=${second}`,
    });
    const answer = await admin().generateCode({ label: "replace-me" });
    expect(answer.code).toBe(expectedCode(second, answer.serverTime?.getTime() ?? 0, {}));
  });

  it("lets exactly one of 100 concurrent registrations of a label win", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () =>
        tg().registerSeed({
          label: "race",
          onBehalfOf: "telegram:555",
          otpauthUri: `otpauth://totp/r?secret=${secret()}`,
        }),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.code);
    expect(won).toHaveLength(1);
    expect(lost).toEqual(Array(99).fill(status.ALREADY_EXISTS));
  });

  it.each([
    ["no source", { label: "nosource" }, /otpauth_uri or spec/],
    ["an HOTP URI", { label: "hotp", otpauthUri: "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1" }, /HOTP/],
    ["a URI without secret", { label: "nosecret", otpauthUri: "otpauth://totp/x?issuer=A" }, /secret/],
    ["a bad base32 character", { label: "badb32", otpauthUri: "otpauth://totp/x?secret=JBSWY3DPEHPK3PX1" }, /position/],
    ["a too short secret", { label: "short", otpauthUri: "otpauth://totp/x?secret=JBSWY3DP" }, /10/],
    ["7 digits", { label: "digits7", otpauthUri: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=7" }, /digits/],
    ["MD5", { label: "md5", otpauthUri: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5" }, /algorithm/],
    ["a period of 0", { label: "period0", otpauthUri: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0" }, /period/],
    [
      "a period over a day",
      { label: "period-day", otpauthUri: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=86401" },
      /period/,
    ],
    ["not a URI", { label: "garbage", otpauthUri: "hello" }, /otpauth/],
    [
      "an issuer with a bidi override in a URI",
      { label: "bidi-uri", otpauthUri: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=a%E2%80%AEb" },
      /issuer has a bidirectional control character \(U\+202E\) at position 2/,
    ],
  ])("refuses %s with INVALID_ARGUMENT and stores nothing", async (_name, request, message) => {
    const err = await failure(admin().registerSeed(request));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.message).toMatch(message);
    const { labels } = await admin().listLabels({ pageSize: 1000 });
    expect(labels.map((l) => l.label)).not.toContain(request.label);
  });

  it.each(BAD_INPUTS)("refuses %s with INVALID_ARGUMENT naming %s, and stores nothing", async (_name, field, call) => {
    const before = await admin().listLabels({ pageSize: 1000 });
    const base32 = secret();
    const err = await failure(call(admin(), { base32, bytes: OTPAuth.Secret.fromBase32(base32).bytes }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.message).toMatch(new RegExp(`(^|[^a-z_])${field}([^a-z_]|$)`));
    expect(await admin().listLabels({ pageSize: 1000 })).toEqual(before);
  });

  it("reads digits and period 0 in a spec as the defaults, 6 and 30", async () => {
    const { info } = await admin().registerSeed({
      label: "zero-defaults",
      spec: { secretBase32: secret(), algorithm: 0, digits: 0, period: 0, issuer: "", account: "", encoding: 0 },
    });
    expect(info).toMatchObject({ algorithm: Algorithm.ALGORITHM_SHA1, digits: 6, period: 30 });
    expect(info?.encoding).toBe(Encoding.ENCODING_NUMERIC);
  });

  it("refuses a request over 16 KiB", async () => {
    const err = await failure(
      admin().registerSeed({ label: "huge", otpauthUri: `otpauth://totp/x?secret=${"A".repeat(17_000)}` }),
    );
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it("answers NOT_FOUND for a label nobody registered", async () => {
    const err = await failure(admin().generateCode({ label: "never-registered" }));
    expect(err.code).toBe(status.NOT_FOUND);
  });

  it("lists a principal's labels page by page, and refuses a token issued to someone else", async () => {
    const onBehalfOf = "telegram:777";
    for (const label of ["p1", "p2", "p3", "p4", "p5"]) {
      await tg().registerSeed({ label, onBehalfOf, otpauthUri: `otpauth://totp/Issuer:acc?secret=${secret()}` });
    }
    const first = await tg().listLabels({ onBehalfOf, pageSize: 2 });
    expect(first.labels.map((l) => l.label)).toEqual(["p1", "p2"]);
    expect(first.labels[0]).toMatchObject({ issuer: "Issuer", account: "acc", owner: "telegram:777", shared: false });
    expect(JSON.stringify(first)).not.toMatch(/secret/i);
    const second = await tg().listLabels({ onBehalfOf, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.labels.map((l) => l.label)).toEqual(["p3", "p4"]);
    const third = await tg().listLabels({ onBehalfOf, pageSize: 2, pageToken: second.nextPageToken });
    expect(third.labels.map((l) => l.label)).toEqual(["p5"]);
    expect(third.nextPageToken).toBe("");

    const stolen = await failure(
      tg().listLabels({ onBehalfOf: "telegram:778", pageSize: 2, pageToken: first.nextPageToken }),
    );
    expect(stolen.code).toBe(status.INVALID_ARGUMENT);
    const forged = await failure(tg().listLabels({ onBehalfOf, pageToken: "bm90LWEtdG9rZW4" }));
    expect(forged.code).toBe(status.INVALID_ARGUMENT);
    const tooBig = await failure(tg().listLabels({ onBehalfOf, pageSize: 1001 }));
    expect(tooBig.code).toBe(status.INVALID_ARGUMENT);
  });

  it("deletes a label, after which it is gone", async () => {
    await admin().registerSeed({ label: "to-delete", otpauthUri: `otpauth://totp/x?secret=${secret()}` });
    expect(await admin().deleteSeed({ label: "to-delete" })).toEqual({ label: "to-delete" });
    expect((await failure(admin().generateCode({ label: "to-delete" }))).code).toBe(status.NOT_FOUND);
    expect((await failure(admin().deleteSeed({ label: "to-delete" }))).code).toBe(status.NOT_FOUND);
    const { labels } = await admin().listLabels({});
    expect(labels.map((l) => l.label)).not.toContain("to-delete");
  });

  it("imports a Google Authenticator export, refusing the entries it cannot serve one by one", async () => {
    const [good, hotp, md5] = [randomBytes(20), randomBytes(20), randomBytes(20)];
    seedsUsed.push(good, hotp, md5);
    const uri = migrationUri([
      { secret: good, name: "alice@example.com", issuer: "Example", type: 2 },
      { secret: hotp, name: "counter", issuer: "Old", type: 1 },
      { secret: md5, name: "md5", issuer: "Weird", type: 2, algorithm: 4 },
    ]);
    const result = await tg().importSeeds({ uri, onBehalfOf: "telegram:4242", labelPrefix: "ga-" });
    expect(result.imported.map((i) => i.label)).toEqual(["ga-example-alice-example.com"]);
    expect(result.rejected.map((r) => [r.index, r.name])).toEqual([
      [1, "Old:counter"],
      [2, "Weird:md5"],
    ]);
    expect(result.rejected[0]?.reason).toMatch(/HOTP/);
    expect(result.rejected[1]?.reason).toMatch(/MD5/);
    const answer = await tg().generateCode({ label: "ga-example-alice-example.com", onBehalfOf: "telegram:4242" });
    const goodBase32 = new OTPAuth.Secret({ buffer: new Uint8Array(good).buffer }).base32;
    expect(answer.code).toBe(expectedCode(goodBase32, answer.serverTime?.getTime() ?? 0, {}));

    const again = await tg().importSeeds({ uri, onBehalfOf: "telegram:4242", labelPrefix: "ga-" });
    expect(again.imported).toEqual([]);
    expect(again.rejected[0]?.reason).toMatch(/already exists/);

    const bad = await failure(
      tg().importSeeds({ uri: "otpauth-migration://offline?data=%%%", onBehalfOf: "telegram:4242" }),
    );
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
  });

  it("keeps personal labels private and shares team labels by policy", async () => {
    await tg().registerSeed({
      label: "mine",
      onBehalfOf: "telegram:111",
      otpauthUri: `otpauth://totp/x?secret=${secret()}`,
    });
    const other = await failure(tg().generateCode({ label: "mine", onBehalfOf: "telegram:222" }));
    expect(other.code).toBe(status.NOT_FOUND);
    expect((await tg().listLabels({ onBehalfOf: "telegram:222" })).labels.map((l) => l.label)).not.toContain("mine");

    await admin().registerSeed({ label: "team-aws", otpauthUri: `otpauth://totp/AWS:root?secret=${secret()}` });
    const member = await tg().generateCode({ label: "team-aws", onBehalfOf: "telegram:111" });
    expect(member.issuer).toBe("AWS");
    expect((await client("deployer").generateCode({ label: "team-aws" })).code).toBe(member.code);
    const listed = await tg().listLabels({ onBehalfOf: "telegram:111" });
    expect(listed.labels.find((l) => l.label === "team-aws")).toMatchObject({ shared: true });

    const outsider = await failure(tg().generateCode({ label: "team-aws", onBehalfOf: "telegram:222" }));
    expect(outsider.code).toBe(status.NOT_FOUND);
    const readerDelete = await failure(client("deployer").deleteSeed({ label: "team-aws" }));
    expect(readerDelete.code).toBe(status.PERMISSION_DENIED);
    const readerWrite = await failure(
      fx
        .client("deployer")
        .registerSeed({ label: "team-aws", overwrite: true, otpauthUri: `otpauth://totp/x?secret=${secret()}` }),
    );
    expect(readerWrite.code).toBe(status.PERMISSION_DENIED);
    await admin().deleteSeed({ label: "team-aws" });
  });
});
