import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { GenerateCodeRequest, TotpServiceClient } from "@totp-custody/contract";
import { expectedCode } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_AUDIT_LINE_BYTES } from "../src/ops/AuditLog.js";
import { SUMMARY_INTERVAL_MS } from "../src/ops/RefusalLimits.js";
import {
  announcedPorts,
  type CLIENT_NAMES,
  type CoreFixture,
  mtlsCredentials,
  startCoreFixture,
} from "./grpcHarness.js";

/** The largest label a request can carry under the server's 16 KiB message limit, as the review sent it. */
const HUGE_LABEL = "x".repeat(16_320);
const REFUSALS_PER_MINUTE = 10;
const REQUESTS_PER_MINUTE = 20;
const FLOOD_MS = 2500;
const CONCURRENCY = 16;
/** Calls of the caller served during each flood: fewer than its principal's limit. */
const SERVED_CALLS = 8;

interface Flood {
  calls: number;
  /** Bytes the audit file grew by during the flood. */
  grown: number;
  elapsedMs: number;
  /** How many of the attacker's calls ended with each status code. */
  codes: Map<number, number>;
  /** How many connections the core cut during the flood, by reason (its metric). */
  cut: Record<string, number>;
}

describe("a flood of refused calls", () => {
  let dir: string;
  let auditFile: string;
  let fx: CoreFixture;
  const raws: TotpServiceClient[] = [];
  const raw = (name: (typeof CLIENT_NAMES)[number]) => {
    const client = new TotpServiceClient(fx.core.address, mtlsCredentials(fx, name));
    raws.push(client);
    return client;
  };
  const secret = new OTPAuth.Secret({ size: 20 }).base32;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "core-audit-flood-"));
    auditFile = join(dir, "audit.log");
    fx = await startCoreFixture("file", {
      TOTP_AUDIT_FILE: auditFile,
      TOTP_METRICS_LISTEN: "127.0.0.1:0",
      TOTP_RATE_REFUSALS_PER_CLIENT: String(REFUSALS_PER_MINUTE),
      // The deployer's flood is soon over its own limit; the admin's few calls stay within theirs.
      TOTP_RATE_REQUESTS_PER_PRINCIPAL: String(REQUESTS_PER_MINUTE),
    });
    await fx.client("admin").registerSeed({ label: "team-aws", otpauthUri: `otpauth://totp/x?secret=${secret}` });
  });
  afterAll(async () => {
    for (const client of raws) client.close();
    await fx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const metrics = async () => (await fetch(`http://127.0.0.1:${announcedPorts(fx.core).metrics}/metrics`)).text();
  /** totp_connections_cut_total by reason. */
  const connectionsCut = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      [...(await metrics()).matchAll(/^totp_connections_cut_total\{reason="(\w+)"\} (\d+)$/gm)].map(([, reason, n]) => [
        reason,
        Number(n),
      ]),
    );

  /**
   * CONCURRENCY loops of GenerateCode with a 16 KiB label for FLOOD_MS and at least `minCalls` calls (so that the
   * flood goes past every budget however slow the machine), while another caller keeps getting codes.
   */
  async function flood(
    name: (typeof CLIENT_NAMES)[number],
    onBehalfOf: string,
    minCalls: number,
    served: () => Promise<{ code: string }>,
  ): Promise<Flood> {
    const attacker = raw(name);
    const before = statSync(auditFile).size;
    const started = performance.now();
    let calls = 0;
    const codes = new Map<number, number>();
    const cutBefore = await connectionsCut();
    const request = GenerateCodeRequest.fromPartial({ label: HUGE_LABEL, onBehalfOf });
    // A deadline as the SDK sets one: a stranger's connection is cut two seconds after its handshake, and calls in
    // flight on it at that moment may hear nothing more.
    const one = () =>
      new Promise<ServiceError | null>((resolve) =>
        attacker.generateCode(request, new Metadata(), { deadline: Date.now() + 5000 }, (e) => resolve(e)),
      );
    const loops = Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() - started < FLOOD_MS || calls < minCalls) {
        const err = await one();
        calls++;
        const code = err?.code ?? status.OK;
        codes.set(code, (codes.get(code) ?? 0) + 1);
        expect(code).not.toBe(status.OK);
      }
    });
    // Another caller is served all along (a few calls, within its own limit): its codes are the ones the seed gives.
    const serving = (async () => {
      let answered = 0;
      while (performance.now() - started < FLOOD_MS && answered < SERVED_CALLS) {
        const { code } = await served();
        const now = Date.now();
        expect([-30_000, 0, 30_000].map((d) => expectedCode(secret, now + d))).toContain(code);
        answered++;
        await sleep(FLOOD_MS / SERVED_CALLS);
      }
      return answered;
    })();
    const [answered] = await Promise.all([serving, ...loops]);
    expect(answered).toBeGreaterThan(0);
    const elapsedMs = performance.now() - started;
    // The last summary of the flood is written within one summary interval after it.
    await sleep(SUMMARY_INTERVAL_MS * 2);
    const cutAfter = await connectionsCut();
    const cut = Object.fromEntries(
      Object.entries(cutAfter).map(([reason, n]) => [reason, n - (cutBefore[reason] ?? 0)] as const),
    );
    return { calls, grown: statSync(auditFile).size - before, elapsedMs, codes, cut };
  }

  /**
   * What the log may take: a line per refusal in the budget (a full burst plus what refills while it runs, for the
   * client's identity), the calls its principal's own limit lets run (a known service's calls over their limit
   * are refusals; the ones within it run and fail on the label), and one summary line per summary interval; each
   * at most MAX_AUDIT_LINE_BYTES.
   */
  const allowance = ({ elapsedMs }: Flood, runPerMinute: number) => {
    const seconds = elapsedMs / 1000 + (2 * SUMMARY_INTERVAL_MS) / 1000;
    const budget = REFUSALS_PER_MINUTE + runPerMinute;
    const lines = budget + (budget * seconds) / 60 + seconds / (SUMMARY_INTERVAL_MS / 1000) + 2;
    return lines * MAX_AUDIT_LINE_BYTES;
  };

  it.each([
    ["a certificate the policy does not know", "stranger", "", 0, "zulip-bot", "zulip:42", "not_admitted"],
    ["a bot with a malformed on_behalf_of", "telegram-bot", "telegram:", 0, "telegram-bot", "telegram:111", "refusals"],
    ["a known service over its rate limit", "deployer", "", REQUESTS_PER_MINUTE, "admin", "", "refusals"],
  ] as const)(
    "from %s grows the audit file by a bounded amount, is cut off, and others are served",
    async (_, name, onBehalfOf, runs, other, otherFor, reason) => {
      // The bot's well-formed calls for a user go on while the same bot floods with malformed ones.
      const served = () => fx.client(other).generateCode({ label: "team-aws", onBehalfOf: otherFor });
      const result = await flood(name, onBehalfOf, 2 * (REFUSALS_PER_MINUTE + runs), served);
      console.log(
        `${name}: ${result.calls} refused calls in ${Math.round(result.elapsedMs)} ms grew the audit file by ${result.grown} bytes (${(result.grown / result.calls).toFixed(1)} bytes per call)`,
      );
      console.log(
        `${name}: status codes ${JSON.stringify(Object.fromEntries(result.codes))}, cut ${JSON.stringify(result.cut)}`,
      );
      // Cut off: the core closed the connection under it, counted it and logged it naming the client; the attacker
      // lost its calls in flight there (UNAVAILABLE, or, for a call grpc-js was writing at that moment, its deadline).
      expect(result.cut[reason]).toBeGreaterThan(0);
      expect(
        (result.codes.get(status.UNAVAILABLE) ?? 0) + (result.codes.get(status.DEADLINE_EXCEEDED) ?? 0),
      ).toBeGreaterThan(0);
      expect(fx.core.process.stdout).toMatch(
        new RegExp(`"client":"spiffe://totp.internal/${name}","reason":"${reason}","msg":"connection cut"`),
      );
      expect(result.grown / result.calls).toBeLessThan(1024);
      expect(result.grown).toBeLessThanOrEqual(allowance(result, runs));
    },
  );

  it("shows operators what the audit log writes and the room left on its volume, before it fills", async () => {
    const text = await metrics();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1]);
    // Every byte of the file was written by this process (it created the file).
    expect(value("totp_audit_written_bytes_total")).toBe(statSync(auditFile).size);
    expect(value("totp_audit_volume_free_bytes")).toBeGreaterThan(0);
    expect(value('totp_rate_limited_total\\{kind="refusals"\\}')).toBeGreaterThan(0);
  });
});
