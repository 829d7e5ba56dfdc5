import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import {
  type AuditEntry,
  AuditLog,
  auditLineHash,
  GENESIS,
  HASH_FIELD,
  MAX_AUDIT_LINE_BYTES,
} from "../src/ops/AuditLog.js";
import { verifyAuditChain } from "../src/ops/verifyAuditChain.js";
import { isLabelName } from "../src/policy/labelName.js";

const entry = (i: number): AuditEntry => ({
  requestId: `req-${i}`,
  client: "CN=telegram-bot",
  principal: `user-${i % 3}`,
  method: "GenerateCode",
  label: `label-${i}`,
  outcome: i % 4 === 0 ? "NOT_FOUND" : "ok",
  status: i % 4 === 0 ? 5 : 0,
  latencyMs: 0.25 + i,
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `n` entries to a fresh file and answers its lines. */
async function writeLog(n: number, path = join(dir, "audit.log")): Promise<string[]> {
  const log = AuditLog.toFile(path);
  for (let i = 1; i <= n; i++) await log.record(entry(i));
  await log.close();
  return readFileSync(path, "utf8").split("\n").slice(0, -1);
}

describe("AuditLog lines", () => {
  it("writes one JSON line per entry, each ending with its hash, chained from GENESIS in a new file", async () => {
    const lines = await writeLog(3);
    const records = lines.map((l) => JSON.parse(l));
    expect(records[0]).toEqual({
      log: "audit",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      requestId: "req-1",
      client: "CN=telegram-bot",
      principal: "user-1",
      method: "GenerateCode",
      label: "label-1",
      outcome: "ok",
      status: 0,
      latencyMs: 1.25,
      prev: GENESIS,
      seq: 1,
      start: true,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[1].start).toBeUndefined();
    // Each hash covers the line's text before its hash field; the next line repeats it as prev.
    for (const [i, line] of lines.entries()) {
      const own = HASH_FIELD.exec(line);
      expect(auditLineHash(line.slice(0, own?.index), undefined)).toBe(records[i].hash);
      if (i > 0) expect(records[i].prev).toBe(records[i - 1].hash);
    }
    expect(verifyAuditChain(lines)).toEqual({ ok: true, lines: 3 });
  });

  it("keys the hashes with the audit key: only that key verifies the log", async () => {
    const key = Buffer.alloc(32, 1);
    const path = join(dir, "keyed.log");
    const log = AuditLog.toFile(path, { key });
    for (let i = 1; i <= 3; i++) await log.record(entry(i));
    await log.close();
    const text = readFileSync(path, "utf8");
    expect(verifyAuditChain(text, { key })).toEqual({ ok: true, lines: 3 });
    expect(verifyAuditChain(text, { key: Buffer.alloc(32, 2) })).toMatchObject({ ok: false, line: 1 });
    expect(verifyAuditChain(text)).toMatchObject({ ok: false, line: 1, reason: expect.stringContaining("keyed") });
  });

  it("starts a line of its own after a last line cut by a crash, from GENESIS", async () => {
    const path = join(dir, "cut.log");
    const [first] = await writeLog(2, path);
    writeFileSync(path, `${readFileSync(path, "utf8")}${(first as string).slice(0, 40)}`);
    const lines = await writeLog(1, path);
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[3] as string)).toMatchObject({ seq: 1, start: true, prev: GENESIS });
  });

  it("links a second process's first line to the last line already in the file", async () => {
    const path = join(dir, "audit.log");
    const before = await writeLog(2, path);
    const after = await writeLog(1, path);
    expect(JSON.parse(after[2] as string)).toMatchObject({ start: true, prev: JSON.parse(before[1] as string).hash });
  });

  it("writes null for an absent principal or label, and escapes what callers send", async () => {
    const out = new PassThrough();
    const log = AuditLog.toStream(out);
    await log.record({ ...entry(1), principal: undefined, label: undefined, requestId: 'a"b\n\\c' });
    const line = String(out.read()).trimEnd();
    expect(JSON.parse(line)).toMatchObject({ principal: null, label: null, requestId: 'a"b\n\\c' });
    expect(line.includes("\n")).toBe(false);
  });

  it("writes every string exactly as JSON.stringify would, whatever characters it holds", async () => {
    const out = new PassThrough();
    const log = AuditLog.toStream(out);
    const anyUtf16 = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 })
      .map((codes) => String.fromCharCode(...codes));
    await fc.assert(
      fc.asyncProperty(anyUtf16, fc.string(), async (requestId, label) => {
        await log.record({ ...entry(1), requestId, label });
        const line = String(out.read());
        expect(line).toContain(`"requestId":${JSON.stringify(requestId)},`);
        expect(line).toContain(
          isLabelName(label)
            ? `"label":${JSON.stringify(label)},`
            : `"label":{"length":${label.length},"fingerprint":"`,
        );
        expect(line.indexOf("\n")).toBe(line.length - 1);
      }),
    );
  });

  it("bounds every line: an invalid label or an oversized field is written as its length and a keyed fingerprint", async () => {
    const out = new PassThrough();
    const key = Buffer.alloc(32, 7);
    const log = AuditLog.toStream(out, { key });
    const huge = "x".repeat(16_320);
    const wide = "\u{1F600}".repeat(4000);
    await log.record({ ...entry(1), requestId: wide, client: huge, principal: wide, method: huge, label: huge });
    await log.record({ ...entry(2), label: "Not A Label" });
    const [first, second] = String(out.read()).trimEnd().split("\n") as [string, string];
    expect(Buffer.byteLength(first) + 1).toBeLessThanOrEqual(MAX_AUDIT_LINE_BYTES);
    expect(first).not.toContain("xxxxxxxx");
    expect(first).not.toContain("\u{1F600}");
    const record = JSON.parse(first);
    expect(record.label).toEqual({ length: 16_320, fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) });
    // The same value and key give the same fingerprint, so an operator can tell repeated values apart.
    expect(record.client).toEqual(record.label);
    expect(record.requestId).toEqual({ length: 8000, fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(JSON.parse(second).label).toEqual({ length: 11, fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(second).not.toContain("Not A Label");
    // Another key gives another fingerprint: it cannot be reversed by hashing guesses without the key.
    const other = new PassThrough();
    await AuditLog.toStream(other, { key: Buffer.alloc(32, 8) }).record({ ...entry(1), label: huge });
    expect(JSON.parse(String(other.read())).label.fingerprint).not.toBe(record.label.fingerprint);
  });

  it("writes the same redacted value for a repeated field as for its first sight, and every line of many values", async () => {
    // Collected as written: a PassThrough nobody reads would stop taking writes after its buffer fills.
    let text = "";
    const out = new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    });
    const log = AuditLog.toStream(out, { key: Buffer.alloc(32, 7) });
    const seedLike = "JBSWY3DPEHPK3PXPJBSWY3DP";
    // More distinct labels than the log keeps rendered, then the seed-like one again: it must still be redacted.
    const written = [log.record({ ...entry(0), label: seedLike, client: seedLike })];
    for (let i = 1; i <= 5000; i++) written.push(log.record(entry(i)));
    written.push(log.record({ ...entry(5001), label: seedLike, client: seedLike }));
    await Promise.all(written);
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(5002);
    const first = JSON.parse(lines[0] as string);
    const last = JSON.parse(lines[5001] as string);
    expect(first.label).toEqual({ length: seedLike.length, fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(last.label).toEqual(first.label);
    expect(last.client).toEqual(first.label);
    expect(lines.some((line) => line.includes(seedLike))).toBe(false);
    expect(JSON.parse(lines[4999] as string).label).toBe("label-4999");
  });

  it("has no field for a seed or a code, and writes nothing that is not a field", async () => {
    expectTypeOf<keyof AuditEntry>().toEqualTypeOf<
      "requestId" | "client" | "principal" | "method" | "label" | "outcome" | "status" | "latencyMs" | "count"
    >();
    // @ts-expect-error a code cannot be put in an entry
    const withCode: AuditEntry = { ...entry(1), code: "123456" };
    // @ts-expect-error the outcome is "ok" or an error code, not free text
    const freeOutcome: AuditEntry = { ...entry(1), outcome: "ok: 123456" };
    expect(freeOutcome).toBeDefined();
    // An object that slips past the types with extra properties still only has its fields written.
    const smuggled = { ...entry(1), code: "123456", seed: "JBSWY3DPEHPK3PXP", secret: Buffer.from("s") };
    const out = new PassThrough();
    const log = AuditLog.toStream(out);
    await log.record(withCode);
    await log.record(smuggled);
    const text = String(out.read());
    expect(text).not.toMatch(/123456|JBSWY3DPEHPK3PXP|"code"|"seed"|"secret"/);
  });
});

describe("verifyAuditChain finds tampering", () => {
  const N = 9;
  const MIDDLE = 5;
  let lines: string[];
  beforeEach(async () => {
    lines = await writeLog(N);
  });

  const edited = (no: number, edit: (r: Record<string, unknown>) => void): string[] => {
    const copy = [...lines];
    const record = JSON.parse(copy[no - 1] as string);
    edit(record);
    copy[no - 1] = JSON.stringify(record);
    return copy;
  };

  it("re-serialising an untouched line changes no byte (so the edits below change only their field)", () => {
    expect(lines.map((l) => JSON.stringify(JSON.parse(l)))).toEqual(lines);
  });

  const changes: Record<string, unknown> = {
    time: "2020-01-01T00:00:00.000Z",
    requestId: "req-other",
    client: "CN=someone-else",
    principal: "mallory",
    method: "DeleteLabel",
    label: "other",
    outcome: "PERMISSION_DENIED",
    status: 7,
    latencyMs: 99,
    prev: "0".repeat(64),
    seq: 42,
    start: true,
  };
  for (const [field, value] of Object.entries(changes)) {
    it(`names the edited line when ${field} of a middle line changes`, () => {
      const result = verifyAuditChain(edited(MIDDLE, (r) => (r[field] = value)));
      expect(result).toMatchObject({ ok: false, line: MIDDLE });
    });
  }

  it("names the line after an edited one only when the edit hides it (log is no longer audit)", () => {
    // The line then reads as not audit at all, exactly as if it had been deleted.
    const result = verifyAuditChain(edited(MIDDLE, (r) => (r.log = "service")));
    expect(result).toMatchObject({ ok: false, line: MIDDLE + 1, reason: expect.stringContaining("missing") });
  });

  it("names the place of a deleted line", () => {
    const copy = lines.filter((_, i) => i !== MIDDLE - 1);
    expect(verifyAuditChain(copy)).toMatchObject({
      ok: false,
      line: MIDDLE,
      reason: expect.stringContaining("missing"),
    });
  });

  it("names the first of two swapped lines", () => {
    const copy = [...lines];
    [copy[MIDDLE - 1], copy[MIDDLE]] = [copy[MIDDLE] as string, copy[MIDDLE - 1] as string];
    expect(verifyAuditChain(copy)).toMatchObject({ ok: false, line: MIDDLE });
  });

  it("names line 1 when the first line is deleted, and catches an edited start value", () => {
    expect(verifyAuditChain(lines.slice(1))).toMatchObject({ ok: false, line: 1 });
    expect(verifyAuditChain(edited(1, (r) => (r.prev = "f".repeat(64))))).toMatchObject({ ok: false, line: 1 });
  });

  it("names the last line when it is edited: it carries its own hash", () => {
    const result = verifyAuditChain(edited(N, (r) => (r.outcome = "NOT_FOUND")));
    expect(result).toMatchObject({ ok: false, line: N, reason: expect.stringContaining("altered") });
  });

  it("rejects lines whose chain fields are malformed", () => {
    expect(verifyAuditChain(edited(3, (r) => (r.prev = "xyz")))).toMatchObject({ ok: false, line: 3 });
    expect(verifyAuditChain(edited(3, (r) => (r.seq = "3")))).toMatchObject({ ok: false, line: 3 });
  });
});

describe("verifyAuditChain on real captures", () => {
  it("accepts a restart: a second process appending to the same file starts a new chain", async () => {
    const path = join(dir, "audit.log");
    await writeLog(4, path);
    const lines = await writeLog(3, path);
    expect(lines).toHaveLength(7);
    expect(JSON.parse(lines[4] as string)).toMatchObject({ seq: 1, start: true });
    expect(verifyAuditChain(lines)).toEqual({ ok: true, lines: 7 });
  });

  it("skips the service log on a mixed stdout capture and counts lines as the capture has them", async () => {
    const out = new PassThrough();
    const log = AuditLog.toStream(out);
    const captured: string[] = [];
    for (let i = 1; i <= 4; i++) {
      captured.push(`{"level":30,"time":${Date.now()},"msg":"call ${i}"}`, "not json at all", "{broken json");
      await log.record(entry(i));
      captured.push(String(out.read()).trimEnd());
    }
    const text = `${captured.join("\n")}\n`;
    expect(verifyAuditChain(text)).toEqual({ ok: true, lines: 4 });
    // The third audit line sits on line 12 of the capture.
    const tampered = text.replace('"requestId":"req-3"', '"requestId":"req-X"');
    expect(verifyAuditChain(tampered)).toMatchObject({ ok: false, line: 12 });
  });

  it("accepts an empty capture", () => {
    expect(verifyAuditChain("")).toEqual({ ok: true, lines: 0 });
  });
});

describe("AuditLog group commit", () => {
  it("writes 1000 concurrent records in far fewer writes, in order, all acknowledged", async () => {
    const path = join(dir, "audit.log");
    const log = AuditLog.toFile(path);
    let acknowledged = 0;
    const calls = Array.from({ length: 1000 }, (_, i) => log.record(entry(i + 1)).then(() => acknowledged++));
    await Promise.all(calls);
    expect(acknowledged).toBe(1000);
    expect(log.flushes).toBeGreaterThan(0);
    expect(log.flushes).toBeLessThan(10);
    await log.close();
    const lines = readFileSync(path, "utf8").split("\n").slice(0, -1);
    expect(lines).toHaveLength(1000);
    expect(lines.map((l) => JSON.parse(l).requestId)).toEqual(Array.from({ length: 1000 }, (_, i) => `req-${i + 1}`));
    expect(verifyAuditChain(lines)).toEqual({ ok: true, lines: 1000 });
  });

  it("keeps the chain across batches that arrive while earlier ones are being written", async () => {
    const path = join(dir, "audit.log");
    const log = AuditLog.toFile(path);
    const waves: Promise<void>[] = [];
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 10; i++) waves.push(log.record(entry(wave * 10 + i)));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(waves);
    await log.close();
    expect(verifyAuditChain(readFileSync(path, "utf8"))).toEqual({ ok: true, lines: 200 });
  });

  it("creates the file owner-only and appends to an existing one", async () => {
    const path = join(dir, "audit.log");
    await writeLog(2, path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await writeLog(2, path)).toHaveLength(4);
  });

  it("resolves a stream record only after the stream's write callback", async () => {
    const callbacks: Array<() => void> = [];
    const chunks: string[] = [];
    const slow = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        callbacks.push(cb);
      },
    });
    const log = AuditLog.toStream(slow);
    let first = false;
    const a = log.record(entry(1)).then(() => {
      first = true;
    });
    // Line 1's write goes out at the end of its event-loop turn; lines 2 and 3 come in a later one.
    await new Promise((r) => setImmediate(r));
    const b = log.record(entry(2));
    const c = log.record(entry(3));
    await new Promise((r) => setImmediate(r));
    expect(first).toBe(false);
    expect(chunks).toHaveLength(1);
    callbacks.shift()?.();
    await a;
    // Lines 2 and 3 waited together and went out as one write.
    await new Promise((r) => setImmediate(r));
    expect(chunks).toHaveLength(2);
    expect(chunks[1]?.split("\n")).toHaveLength(3);
    callbacks.shift()?.();
    await Promise.all([b, c]);
    expect(log.flushes).toBe(2);
  });

  it("close() waits for pending lines; later records reject", async () => {
    const path = join(dir, "audit.log");
    const log = AuditLog.toFile(path);
    const pending = Array.from({ length: 50 }, (_, i) => log.record(entry(i)));
    await log.close();
    await Promise.all(pending);
    expect(readFileSync(path, "utf8").split("\n")).toHaveLength(51);
    await expect(log.record(entry(99))).rejects.toThrow("audit log is closed");
  });

  it("fails closed: after a failed write, that batch and every later record reject", async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error("disk full"));
      },
    });
    failing.on("error", () => {});
    const log = AuditLog.toStream(failing);
    await expect(log.record(entry(1))).rejects.toThrow("disk full");
    await expect(log.record(entry(2))).rejects.toThrow("disk full");
  });
});
