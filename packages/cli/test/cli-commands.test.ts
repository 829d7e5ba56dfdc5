import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codesBetween, expectedCode, freePort, makeTestPki, newSecret, startTotpCore } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationUri } from "../../../services/totp-core/test/encodeMigrationPayload.js";
import { secretTraces, tracesIn } from "../../../services/totp-core/test/secretTraces.js";
import { devPolicyYaml } from "../src/devPolicyYaml.js";
import { ExitCode } from "../src/exitCodes.js";
import { type CliFixture, startCliFixture } from "./cliFixture.js";
import { controlCharactersIn } from "./controlCharactersIn.js";
import type { CommandRun, RunOptions } from "./runCommand.js";
import { runTotpctl } from "./runTotpctl.js";

let fx: CliFixture;
let workDir: string;
const seeds: string[] = [];
const runs: CommandRun[] = [];

const secret = (bytes?: number) => {
  const s = newSecret(bytes);
  seeds.push(s);
  return s;
};

/** totpctl as `name` of the test PKI, from a folder without `.dev/`; every run is kept for the seed canary. */
async function totpctl(args: string[], options: RunOptions & { as?: string } = {}): Promise<CommandRun> {
  const run = await runTotpctl(args, {
    cwd: workDir,
    ...options,
    env: { ...fx.env(options.as ?? "admin"), ...options.env },
  });
  runs.push(run);
  return run;
}

/** The outcome in one object, so a failing expectation shows code, stdout and stderr together. */
const outcome = (run: CommandRun) => ({ code: run.code, stdout: run.stdout, stderr: run.stderr });
const failed = (code: number, message: string | RegExp) => ({
  code,
  stdout: "",
  stderr: typeof message === "string" ? `totpctl: ${message}\n` : expect.stringMatching(message),
});

beforeAll(async () => {
  fx = await startCliFixture();
  workDir = await mkdtemp(join(tmpdir(), "totpctl-work-"));
});

afterAll(async () => {
  try {
    // The canary: no seed of this run appears in anything totpctl or totp-core printed, in any form the code holds
    // it in (base32, or its bytes as hex, base64, base64url).
    const printed = runs.map((r) => r.stdout + r.stderr).join("\n") + fx.core.process.stdout + fx.core.process.stderr;
    expect(seeds.length).toBeGreaterThan(5);
    expect(tracesIn(printed, seeds.flatMap(secretTraces))).toEqual([]);
  } finally {
    await fx?.close();
    await rm(workDir, { recursive: true, force: true });
  }
});

describe("totpctl add and code", () => {
  it("reads the seed from standard input and prints the code an independent implementation computes", async () => {
    const s = secret(32);
    const params = { algorithm: "SHA256", digits: 8, period: 60 };
    const add = await totpctl(
      ["add", "acme", "-", "--algorithm", "sha256", "--digits", "8", "--period", "60", "--issuer", "Acme"].concat([
        "--account",
        "ops@example.com",
      ]),
      { input: `${s}\n` },
    );
    expect(outcome(add)).toEqual({
      code: 0,
      stdout: "stored acme (Acme: ops@example.com): SHA256, 8 digits, 60s\n",
      stderr: "",
    });

    const before = Date.now();
    const code = await totpctl(["code", "acme"]);
    const after = Date.now();
    expect(code.code).toBe(0);
    expect(code.stderr).toBe("");
    // Piped: the code alone on one line, nothing a terminal would interpret.
    expect(code.stdout).toMatch(/^\d{8}\n$/);
    expect(controlCharactersIn(code.stdout)).toEqual([]);
    expect(codesBetween(s, before, after, params)).toContain(code.stdout.trim());
  });

  it("prints the whole answer as JSON with --json", async () => {
    const s = secret();
    expect((await totpctl(["add", "json-demo", "-"], { input: s })).code).toBe(0);
    const run = await totpctl(["code", "json-demo", "--json"]);
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout) as Record<string, string | number>;
    const serverMs = Date.parse(String(answer.serverTime));
    expect(answer).toEqual({
      code: expectedCode(s, serverMs),
      nextCode: expectedCode(s, serverMs + 30_000),
      digits: 6,
      period: 30,
      validFrom: new Date(Math.floor(serverMs / 30_000) * 30_000).toISOString(),
      validUntil: new Date(Math.floor(serverMs / 30_000) * 30_000 + 30_000).toISOString(),
      serverTime: expect.any(String),
    });
  });

  it("takes an otpauth URI as an argument, and --overwrite replaces a seed that exists", async () => {
    const first = secret();
    const uri = (s: string) => `otpauth://totp/GitHub:ops%40example.com?secret=${s}&issuer=GitHub`;
    expect(outcome(await totpctl(["add", "github", uri(first)]))).toEqual({
      code: 0,
      stdout: "stored github (GitHub: ops@example.com): SHA1, 6 digits, 30s\n",
      stderr: "",
    });
    const second = secret();
    expect(outcome(await totpctl(["add", "github", uri(second)]))).toEqual(
      failed(ExitCode.invalid, "label github already exists"),
    );
    expect((await totpctl(["add", "github", "-", "--overwrite"], { input: uri(second) })).code).toBe(0);
    const before = Date.now();
    const run = await totpctl(["code", "github"]);
    expect(codesBetween(second, before, Date.now())).toContain(run.stdout.trim());
  });

  it("stores Steam Guard secrets with --steam", async () => {
    expect((await totpctl(["add", "steam", "-", "--steam"], { input: secret() })).stdout).toBe(
      "stored steam: Steam, 30s\n",
    );
    expect((await totpctl(["code", "steam"])).stdout).toMatch(/^[23456789BCDFGHJKMNPQRTVWXY]{5}\n$/);
  });

  it("refuses bad input with the core's reason and exit code 4, and storing nothing", async () => {
    expect(outcome(await totpctl(["add", "hotp", `otpauth://hotp/x?secret=${secret()}&counter=1`]))).toEqual(
      failed(ExitCode.invalid, "HOTP (counter-based) seeds are not supported yet; only otpauth://totp/ URIs"),
    );
    expect(outcome(await totpctl(["add", "web", "-"], { input: `https://example.com/?secret=${secret()}` }))).toEqual(
      failed(ExitCode.invalid, "not a seed: expected an otpauth:// URI or a base32 secret"),
    );
    expect(outcome(await totpctl(["add", "short", "-"], { input: "JBSWY3DP" }))).toEqual(
      failed(ExitCode.invalid, /^totpctl: .*10 to 128 bytes.*\n$/),
    );
    expect(outcome(await totpctl(["add", "Bad Label", "-"], { input: secret() }))).toEqual(
      failed(ExitCode.invalid, /^totpctl: .*label.*\n$/),
    );
    expect(outcome(await totpctl(["add", "empty", "-"], { input: "\n" }))).toEqual(
      failed(ExitCode.invalid, "no seed given: expected an otpauth:// URI or a base32 secret"),
    );
    const ls = await totpctl(["ls"]);
    for (const label of ["hotp", "web", "short", "empty"]) expect(ls.stdout.split("\n")).not.toContain(label);
  });

  it("refuses flags that contradict a URI, and malformed flags, as usage errors", async () => {
    expect(
      outcome(await totpctl(["add", "x", "-", "--digits", "8"], { input: `otpauth://totp/x?secret=${secret()}` })),
    ).toEqual(
      failed(
        ExitCode.usage,
        "an otpauth URI carries its own parameters: drop --digits (they describe a base32 secret)",
      ),
    );
    expect(outcome(await totpctl(["add", "x", "-", "--algorithm", "md5"], { input: secret() }))).toEqual(
      failed(ExitCode.usage, "option '--algorithm <name>' argument 'md5' is invalid. expected sha1, sha256 or sha512"),
    );
    expect(outcome(await totpctl(["add", "x"]))).toEqual(failed(ExitCode.usage, "missing required argument 'seed'"));
    // Past what the contract's uint32 can carry, the value could not even be sent: a usage error, not the core's.
    expect(outcome(await totpctl(["add", "x", "-", "--period", "4294967296"], { input: secret() }))).toEqual(
      failed(
        ExitCode.usage,
        "option '--period <seconds>' argument '4294967296' is invalid. expected a whole number up to 4294967295",
      ),
    );
    expect(outcome(await totpctl(["frobnicate"]))).toEqual(failed(ExitCode.usage, "unknown command 'frobnicate'"));
  });

  it("answers exit code 2 for a label that does not exist", async () => {
    expect(outcome(await totpctl(["code", "nope"]))).toEqual(failed(ExitCode.notFound, "label nope not found"));
  });
});

describe("totpctl ls", () => {
  it("prints one label per line when piped, and every detail with --json", async () => {
    expect((await totpctl(["add", "listed", "-", "--issuer", "Listed"], { input: secret() })).code).toBe(0);
    const plain = await totpctl(["ls"]);
    expect(plain.code).toBe(0);
    expect(plain.stdout.split("\n")).toEqual(expect.arrayContaining(["acme", "github", "listed"]));
    expect(controlCharactersIn(plain.stdout)).toEqual([]);

    const json = JSON.parse((await totpctl(["ls", "--json"])).stdout) as Array<Record<string, unknown>>;
    expect(json.find((info) => info.label === "listed")).toEqual({
      label: "listed",
      issuer: "Listed",
      algorithm: "ALGORITHM_SHA1",
      digits: 6,
      period: 30,
      encoding: "ENCODING_NUMERIC",
      owner: "service:admin",
      createdAt: expect.any(String),
    });
  });
});

describe("totpctl import", () => {
  it("stores each entry of an export read from standard input and refuses the ones it cannot serve", async () => {
    const [a, b, c] = [secret(), secret(), secret()];
    const decode = (base32: string) => new Uint8Array(OTPAuth.Secret.fromBase32(base32).buffer);
    const uri = migrationUri([
      { secret: decode(a), name: "alice@example.com", issuer: "Example", type: 2 },
      { secret: decode(b), name: "counter", issuer: "Hotp", type: 1, counter: 3n },
      { secret: decode(c), name: "bob", issuer: "Other", type: 2, digits: 2 },
    ]);
    const run = await totpctl(["import", "-", "--prefix", "ga-"], { input: uri });
    expect(run.code).toBe(ExitCode.invalid);
    expect(run.stderr).toBe("totpctl: 1 of 3 entries were not imported\n");
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^imported ga-[a-z0-9._-]+ \(Example: alice@example.com\)$/);
    expect(lines[1]).toMatch(/^imported ga-[a-z0-9._-]+ \(Other: bob\)$/);
    expect(lines[2]).toMatch(/^refused entry 2 \(Hotp:counter\): HOTP/);

    const label = lines[0]?.split(" ")[1] ?? "";
    const before = Date.now();
    const code = await totpctl(["code", label]);
    expect(codesBetween(a, before, Date.now())).toContain(code.stdout.trim());
  });

  it("refuses an unreadable export with exit code 4", async () => {
    expect(outcome(await totpctl(["import", "otpauth-migration://offline?data=zzz"]))).toEqual(
      failed(ExitCode.invalid, /^totpctl: .*Google Authenticator export.*\n$/),
    );
  });

  it("refuses an export over the core's 16 KiB request limit with exit code 4, not as a rate limit", async () => {
    const huge = `otpauth-migration://offline?data=${"A".repeat(20_000)}`;
    expect(outcome(await totpctl(["import", "-"], { input: huge }))).toEqual(
      failed(ExitCode.invalid, /^totpctl: the request is too large for totp-core \(.*16384.*\)\n$/),
    );
  });
});

describe("totpctl rm", () => {
  it("refuses to delete without --yes when nobody can answer, and deletes with it", async () => {
    expect((await totpctl(["add", "doomed", "-"], { input: secret() })).code).toBe(0);
    expect(outcome(await totpctl(["rm", "doomed"]))).toEqual(
      failed(ExitCode.usage, "rm asks for confirmation: pass --yes when not in a terminal"),
    );
    expect((await totpctl(["code", "doomed"])).code).toBe(0);
    expect(outcome(await totpctl(["rm", "doomed", "--yes"]))).toEqual({
      code: 0,
      stdout: "deleted doomed\n",
      stderr: "",
    });
    expect(outcome(await totpctl(["code", "doomed"]))).toEqual(failed(ExitCode.notFound, "label doomed not found"));
    expect(outcome(await totpctl(["rm", "doomed", "-y"]))).toEqual(failed(ExitCode.notFound, "label doomed not found"));
  });
});

describe("identities", () => {
  it("lets a bot act for users of its platform with --on-behalf-of, and nobody else", async () => {
    const s = secret();
    const asUser = ["--on-behalf-of", "telegram:4242"];
    expect((await totpctl([...asUser, "add", "mine", "-"], { as: "telegram-bot", input: s })).code).toBe(0);
    const before = Date.now();
    const code = await totpctl(["code", "mine", ...asUser], { as: "telegram-bot" });
    expect(codesBetween(s, before, Date.now())).toContain(code.stdout.trim());
    expect((await totpctl(["ls", ...asUser], { as: "telegram-bot" })).stdout).toBe("mine\n");

    // Another user, the admin's own labels: personal labels are nobody else's.
    expect(outcome(await totpctl(["code", "mine", "--on-behalf-of", "telegram:1"], { as: "telegram-bot" }))).toEqual(
      failed(ExitCode.notFound, "label mine not found"),
    );
    expect((await totpctl(["code", "mine"])).code).toBe(ExitCode.notFound);
    expect(outcome(await totpctl(["ls", "--on-behalf-of", "zulip:1"], { as: "telegram-bot" }))).toEqual(
      failed(
        ExitCode.notFound,
        "client spiffe://totp.internal/telegram-bot acts for telegram users only, not for zulip:1",
      ),
    );
    expect(outcome(await totpctl(["ls", "--on-behalf-of", "telegram:1"]))).toEqual(
      failed(
        ExitCode.notFound,
        "client spiffe://totp.internal/admin acts as service:admin only; it may not set on_behalf_of to anyone else",
      ),
    );
  });

  it("refuses a certificate the policy does not know, with exit code 2", async () => {
    expect(outcome(await totpctl(["ls"], { as: "stranger" }))).toEqual(
      failed(ExitCode.notFound, "client certificate spiffe://totp.internal/stranger is not allowed"),
    );
  });

  it("reports a certificate from a foreign CA as a refused TLS handshake, with exit code 3", async () => {
    const foreign = { cert: fx.pki.foreign.certPath, key: fx.pki.foreign.keyPath };
    expect(outcome(await totpctl(["ls"], { env: fx.env("admin", foreign) }))).toEqual(
      failed(
        ExitCode.unavailable,
        `totp-core at ${fx.core.address} refused the TLS handshake: check that the client certificate (--cert, TOTP_TLS_CERT) is valid and signed by the CA totp-core trusts`,
      ),
    );
  });

  it("refuses a core whose certificate the given CA did not sign, with exit code 3", async () => {
    expect(outcome(await totpctl(["ls", "--ca", fx.pki.foreignCaPath]))).toEqual(
      failed(
        ExitCode.unavailable,
        `cannot trust totp-core's certificate at ${fx.core.address} (self-signed certificate in certificate chain): check --ca, TOTP_TLS_CA`,
      ),
    );
  });
});

describe("connection", () => {
  it("answers exit code 3 when totp-core is down", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    expect(outcome(await totpctl(["code", "acme", "--addr", address]))).toEqual(
      failed(ExitCode.unavailable, `cannot reach totp-core at ${address}: connection refused (is it running?)`),
    );
  });

  it("says what is missing when nothing is configured", async () => {
    const run = await runTotpctl(["ls"], { cwd: workDir });
    expect(outcome(run)).toEqual(
      failed(
        ExitCode.usage,
        "totp-core's address is not set: pass --addr or set TOTP_ADDR (or run npm start in the checkout first)",
      ),
    );
    expect(outcome(await totpctl(["ls", "--key", join(workDir, "missing.key")]))).toEqual(
      failed(ExitCode.usage, `cannot read the client key ${join(workDir, "missing.key")} (from --key): ENOENT`),
    );
  });

  it("finds the .dev/ folder of a checkout made with dev-certs, as its admin client", async () => {
    const checkout = await mkdtemp(join(tmpdir(), "totpctl-checkout-"));
    const devDir = join(checkout, ".dev");
    try {
      const certs = await runTotpctl(["dev-certs", devDir]);
      expect(certs.code).toBe(0);
      expect(certs.stdout).toMatch(/wrote .*admin\.key\n/);
      expect(outcome(await runTotpctl(["dev-certs", devDir]))).toEqual(
        failed(
          ExitCode.invalid,
          `${join(devDir, "ca.crt")} exists: keep it, or pass --force to replace the CA and every certificate`,
        ),
      );

      // totp-core on those certificates and the development policy, as npm start runs it.
      const pki = await makeTestPki(["unused"]);
      const port = await freePort();
      const core = await startTotpCore({
        pki,
        policy: devPolicyYaml(),
        env: {
          TOTP_LISTEN: `127.0.0.1:${port}`,
          TOTP_TLS_CERT: join(devDir, "totp-core.crt"),
          TOTP_TLS_KEY: join(devDir, "totp-core.key"),
          TOTP_TLS_CA: join(devDir, "ca.crt"),
        },
      });
      try {
        await writeFile(join(devDir, "address"), `127.0.0.1:${port}\n`);
        const nested = join(checkout, "packages", "cli");
        await mkdir(nested, { recursive: true });
        const s = secret();
        expect((await runTotpctl(["add", "dev", "-"], { cwd: nested, input: s })).code).toBe(0);
        const before = Date.now();
        const code = await runTotpctl(["code", "dev"], { cwd: nested });
        expect(codesBetween(s, before, Date.now())).toContain(code.stdout.trim());
        expect((await runTotpctl(["ls", "--json"], { cwd: checkout })).stdout).toContain('"owner": "service:admin"');
      } finally {
        await core.stop();
        await pki.cleanup();
      }
    } finally {
      await rm(checkout, { recursive: true, force: true });
    }
  });
});

describe("help", () => {
  it("documents every command, and the exit codes, with exit code 0", async () => {
    const help = await runTotpctl(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes: 0 ok, 1 usage or cancelled, 2 not found or permission denied/);
    for (const command of ["code", "ls", "add", "import", "rm", "dev-certs"]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
      const own = await runTotpctl([command, "--help"]);
      expect(own.code).toBe(0);
      expect(own.stdout).toMatch(new RegExp(`^Usage: totpctl ${command} `));
      // The global connection flags are listed with each command.
      expect(own.stdout).toContain("--addr <host:port>");
    }
  });
});
