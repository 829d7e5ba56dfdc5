import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import {
  DeleteSeedRequest,
  GenerateCodeRequest,
  ListLabelsRequest,
  RegisterSeedRequest,
  TotpServiceClient,
} from "@totp-custody/contract";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CLIENT_NAMES,
  type CoreFixture,
  checkHealth,
  eventually,
  failure,
  mtlsCredentials,
  startCoreFixture,
} from "./grpcHarness.js";

const verifyCli = join(dirname(fileURLToPath(import.meta.url)), "../dist/bin/audit-verify.js");

/** Every field an audit line may have: anything else could carry what must not be logged. */
const AUDIT_KEYS = [
  "log",
  "time",
  "requestId",
  "client",
  "principal",
  "method",
  "label",
  "outcome",
  "status",
  "latencyMs",
  "prev",
  "seq",
  "start",
  "hash",
];

interface AuditRecord {
  log: "audit";
  time: string;
  requestId: string;
  client: string;
  principal: string | null;
  method: string;
  label: string | null;
  outcome: string;
  status: number;
  latencyMs: number;
}

const auditRecords = (text: string): AuditRecord[] =>
  text
    .split("\n")
    .filter((line) => line.includes('"log":"audit"'))
    .map((line) => JSON.parse(line) as AuditRecord);

/** Runs the built `totp-audit-verify` on a file, or on stdin when `file` is undefined. */
function verify(file: string | undefined, stdin = ""): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [verifyCli, ...(file ? [file] : [])], (err, stdout) =>
      resolve({ code: err ? Number(err.code) : 0, stdout }),
    );
    child.stdin?.end(stdin);
  });
}

// grpc-js clients take whole messages: fromPartial fills in the fields a test leaves out.
const requestTypes = {
  generateCode: GenerateCodeRequest,
  registerSeed: RegisterSeedRequest,
  listLabels: ListLabelsRequest,
  deleteSeed: DeleteSeedRequest,
};
type Method = keyof typeof requestTypes;
type Unary = (
  request: object,
  metadata: Metadata,
  callback: (err: ServiceError | null, response: unknown) => void,
) => unknown;

interface Answer {
  err: ServiceError | null;
  response: unknown;
  /** What the audit file held at the moment the answer arrived. */
  auditAtAnswer: string;
}

/**
 * Calls through grpc-js with our own x-request-id, and reads the audit file synchronously in the answer's callback:
 * whatever the file holds then was there before the client had its answer.
 */
function callAudited(
  client: TotpServiceClient,
  method: Method,
  request: object,
  requestId: string,
  auditFile: string,
): Promise<Answer> {
  const metadata = new Metadata();
  metadata.set("x-request-id", requestId);
  return new Promise((resolve) =>
    (client[method] as unknown as Unary).call(
      client,
      requestTypes[method].fromPartial(request),
      metadata,
      (err, response) => resolve({ err, response, auditAtAnswer: readFileSync(auditFile, "utf8") }),
    ),
  );
}

const newSecret = () => new OTPAuth.Secret({ size: 20 }).base32;

describe("audit log of a running totp-core", () => {
  let dir: string;
  let auditFile: string;
  let toFile: CoreFixture;
  let toStdout: CoreFixture;
  const clients = new Map<string, TotpServiceClient>();
  const raw = (name: (typeof CLIENT_NAMES)[number]) => {
    let client = clients.get(name);
    if (!client) {
      client = new TotpServiceClient(toFile.core.address, mtlsCredentials(toFile, name));
      clients.set(name, client);
    }
    return client;
  };
  const secrets: string[] = [];
  const codes: string[] = [];

  beforeAll(async () => {
    if (!existsSync(verifyCli)) throw new Error(`${verifyCli} is missing: run \`npx tsc -b\``);
    dir = mkdtempSync(join(tmpdir(), "core-audit-"));
    auditFile = join(dir, "audit.log");
    [toFile, toStdout] = await Promise.all([
      // A small per-label limit, so that some calls are refused by it.
      startCoreFixture("file", { TOTP_AUDIT_FILE: auditFile, TOTP_RATE_CODES_PER_LABEL: "20" }),
      startCoreFixture("file"),
    ]);
  });
  afterAll(async () => {
    for (const client of clients.values()) client.close();
    await Promise.all([toFile?.close(), toStdout?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("has each answered call's line in TOTP_AUDIT_FILE by the time the client gets the answer, ok or refused", async () => {
    const secret = newSecret();
    const badSecret = newSecret();
    secrets.push(secret, badSecret);
    const calls: Array<{ id: string; method: Method; name: (typeof CLIENT_NAMES)[number]; request: object }> = [
      {
        id: "reg-ok",
        method: "registerSeed",
        name: "admin",
        request: { label: "audited", otpauthUri: `otpauth://totp/A:b?secret=${secret}` },
      },
      // Refused with the seed in the request: it must not reach the log either.
      {
        id: "reg-bad",
        method: "registerSeed",
        name: "admin",
        request: { label: "bad", otpauthUri: `otpauth://totp/x?secret=${badSecret}&digits=7` },
      },
      { id: "missing", method: "generateCode", name: "admin", request: { label: "never-registered" } },
      { id: "stranger", method: "listLabels", name: "stranger", request: {} },
    ];
    const answers = new Map<string, Answer>();
    for (const { id, method, name, request } of calls) {
      answers.set(id, await callAudited(raw(name), method, request, id, auditFile));
    }
    // 25 concurrent codes of one label: 20 answered, 5 refused by the limit; lines written by group commit.
    const burst = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        callAudited(raw("admin"), "generateCode", { label: "audited" }, `code-${i}`, auditFile).then((a) => {
          answers.set(`code-${i}`, a);
          return a;
        }),
      ),
    );
    for (const a of burst) if (!a.err) codes.push((a.response as { code: string }).code);
    expect(codes).toHaveLength(20);
    expect(burst.filter((a) => a.err?.code === status.RESOURCE_EXHAUSTED)).toHaveLength(5);

    for (const [id, answer] of answers) {
      const line = auditRecords(answer.auditAtAnswer).find((r) => r.requestId === id);
      expect(line, `audit line of ${id} when its answer arrived`).toBeDefined();
      expect(line?.status).toBe(answer.err?.code ?? status.OK);
    }

    const records = auditRecords(readFileSync(auditFile, "utf8"));
    const byId = new Map(records.map((r) => [r.requestId, r]));
    expect(byId.get("reg-ok")).toMatchObject({
      log: "audit",
      client: "spiffe://totp.internal/admin",
      principal: "service:admin",
      method: "RegisterSeed",
      label: "audited",
      outcome: "ok",
      status: status.OK,
    });
    expect(byId.get("reg-bad")).toMatchObject({ outcome: "INVALID_ARGUMENT", status: status.INVALID_ARGUMENT });
    expect(byId.get("missing")).toMatchObject({
      method: "GenerateCode",
      label: "never-registered",
      outcome: "NOT_FOUND",
      status: status.NOT_FOUND,
    });
    // Refused before a principal was known: the certificate identity is what the line can name.
    expect(byId.get("stranger")).toMatchObject({
      client: "spiffe://totp.internal/stranger",
      principal: null,
      method: "ListLabels",
      outcome: "PERMISSION_DENIED",
      status: status.PERMISSION_DENIED,
    });
    const refused = records.filter((r) => r.outcome === "RESOURCE_EXHAUSTED");
    expect(refused).toHaveLength(5);
    for (const r of records) {
      expect(Date.parse(r.time)).not.toBeNaN();
      expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    }
    // The file holds it all; stdout none of it.
    expect(records).toHaveLength(answers.size);
    expect(toFile.core.process.stdout).not.toContain('"log":"audit"');
  });

  it("holds no seed and no code, only the audit fields", () => {
    const text = readFileSync(auditFile, "utf8");
    for (const line of text.trimEnd().split("\n")) {
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(AUDIT_KEYS).toEqual(expect.arrayContaining(Object.keys(record)));
      for (const code of codes) expect(Object.values(record)).not.toContain(code);
    }
    const everything = text + toFile.core.process.stdout + toFile.core.process.stderr;
    expect(secrets.length).toBe(2);
    for (const secret of secrets) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(secret.toLowerCase());
    }
  });

  it("verifies with totp-audit-verify, and names the first line broken by a tamper", async () => {
    const lines = readFileSync(auditFile, "utf8").trimEnd().split("\n");
    expect(await verify(auditFile)).toEqual({ code: 0, stdout: `ok: ${lines.length} lines\n` });

    // Turn a refusal into a success, as someone covering their tracks would.
    const at = lines.findIndex((l) => l.includes('"requestId":"stranger"'));
    const tampered = [...lines];
    tampered[at] = (lines[at] as string).replace('"outcome":"PERMISSION_DENIED"', '"outcome":"ok"');
    expect(tampered[at]).not.toBe(lines[at]);
    const edited = join(dir, "edited.log");
    writeFileSync(edited, `${tampered.join("\n")}\n`);
    const result = await verify(edited);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^broken at line ${at + 1}: `));

    // A deleted line shows too.
    const dropped = lines.filter((_, i) => i !== 3);
    const deleted = await verify(undefined, `${dropped.join("\n")}\n`);
    expect(deleted.code).toBe(1);
    expect(deleted.stdout).toMatch(/^broken at line 4: /);
  });

  it("refuses every call it cannot audit: no answer leaves without its line", async () => {
    // /dev/full takes the open and fails every write (ENOSPC), as a full disk would.
    const unwritable = await startCoreFixture("file", { TOTP_AUDIT_FILE: "/dev/full" });
    try {
      const admin = unwritable.client("admin");
      const seeds = join(unwritable.core.dir, "seeds.enc");
      const stored = () => (existsSync(seeds) ? readFileSync(seeds) : undefined);
      const storedBefore = stored();
      // The first call ran, but its line could not be written: it gets no answer but INTERNAL.
      const first = await failure(admin.listLabels({}));
      expect(first.code).toBe(status.INTERNAL);
      expect(first.message).toBe("internal error; the server log has the details");
      // The log line may reach the pipe after the answer does.
      await unwritable.core.process.waitForOutput(/audit write failed; refusing the call/);
      // Every later call is refused before it runs, so that no registration happens unaudited; UNAVAILABLE sends
      // the caller to another replica.
      const secret = newSecret();
      // Each call's failure is taken as it is made, so that none is left unhandled while another is awaited.
      const refused = [
        admin.registerSeed({ label: "unaudited", otpauthUri: `otpauth://totp/x?secret=${secret}` }),
        admin.generateCode({ label: "whatever" }),
      ].map((call) => failure(call));
      for (const err of await Promise.all(refused)) {
        expect(err.code).toBe(status.UNAVAILABLE);
        expect(err.message).toBe("audit log not writable on this server; retry");
      }
      expect(stored()).toEqual(storedBefore);
      // Health follows, so that probes take the replica out of service.
      const channel = mtlsCredentials(unwritable, "admin");
      await eventually(
        async () => (await checkHealth(unwritable.core.address, channel)) === "NOT_SERVING",
        "health NOT_SERVING after an audit write failure",
      );
    } finally {
      await unwritable.close();
    }
  });

  it("writes the lines to stdout beside the service log by default, where the verifier finds them", async () => {
    const admin = toStdout.client("admin");
    const secret = newSecret();
    await admin.registerSeed({ label: "on-stdout", otpauthUri: `otpauth://totp/x?secret=${secret}` });
    const { code } = await admin.generateCode({ label: "on-stdout" });
    await expect(admin.generateCode({ label: "nope" })).rejects.toMatchObject({ code: status.NOT_FOUND });

    // stdout reaches the test through a pipe after the answer: wait for it, bounded.
    await eventually(() => auditRecords(toStdout.core.process.stdout).length >= 3, "three audit lines on stdout");
    const stdout = toStdout.core.process.stdout;
    expect(auditRecords(stdout).map((r) => [r.method, r.label, r.outcome])).toEqual([
      ["RegisterSeed", "on-stdout", "ok"],
      ["GenerateCode", "on-stdout", "ok"],
      ["GenerateCode", "nope", "NOT_FOUND"],
    ]);
    // Service-log lines are there too, and the verifier skips them.
    expect(stdout).toContain('"msg":"totp-core ready"');
    expect(await verify(undefined, stdout)).toEqual({ code: 0, stdout: "ok: 3 lines\n" });
    expect(stdout).not.toContain(secret);
    expect(stdout).not.toMatch(new RegExp(`"${code}"`));
  });

  it("reopens TOTP_AUDIT_FILE on SIGHUP after a rotation; the chain goes on across the two files", async () => {
    const admin = toFile.client("admin");
    await admin.listLabels({});
    // What logrotate does: rename the file, then signal the process.
    const rotated = join(dir, "audit.log.1");
    renameSync(auditFile, rotated);
    const pid = toFile.core.process.pid;
    toFile.core.process.kill("SIGHUP");
    await eventually(
      () => toFile.core.process.stdout.includes("audit file reopens at its next write"),
      "the SIGHUP acknowledged",
    );
    // Served after the signal by the same process: SIGHUP no longer ends it.
    await admin.listLabels({});
    await admin.generateCode({ label: "nope" }).catch(() => {});
    expect(toFile.core.process.pid).toBe(pid);

    const fresh = readFileSync(auditFile, "utf8");
    expect(auditRecords(fresh).map((r) => [r.method, r.outcome])).toEqual([
      ["ListLabels", "ok"],
      ["GenerateCode", "NOT_FOUND"],
    ]);
    // The new file goes on from the rotated one: alone it lacks its start, together (oldest first) they verify.
    expect((await verify(auditFile)).stdout).toMatch(/^broken at line 1: the first audit line does not start a chain/);
    const before = readFileSync(rotated, "utf8");
    const total = auditRecords(before).length + 2;
    expect(await verify(undefined, before + fresh)).toEqual({ code: 0, stdout: `ok: ${total} lines\n` });

    // With the audit log on stdout there is nothing to reopen: the signal is noted, and the process serves on.
    toStdout.core.process.kill("SIGHUP");
    await eventually(() => toStdout.core.process.stdout.includes("SIGHUP ignored"), "the SIGHUP noted on stdout");
    await toStdout.client("admin").listLabels({});
  });
});
