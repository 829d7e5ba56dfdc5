import { credentials, status } from "@grpc/grpc-js";
import { createTotpClient } from "@totp-custody/client";
import { type ExitStatus, startVault } from "@totp-custody/testkit";
import * as OTPAuth from "otpauth";
import { afterEach, describe, expect, it } from "vitest";
import { CUT_OFF_MS } from "../src/server.js";
import { announcedPorts, type CoreFixture, checkHealth, eventually, failure, startCoreFixture } from "./grpcHarness.js";
import { startTcpProxy, type TcpProxy } from "./tcpProxy.js";

const IN_FLIGHT = 50;
/** How long Vault's answers are held back while the signal lands: the calls are in flight for that long. */
const VAULT_DELAY_MS = 1500;
const label = (i: number) => `slow-${i}`;

/**
 * The latest a core with `graceMs` may exit after the signal. By its logic: the grace period, then at most the
 * cut-off. On top, slack for a loaded 2-core machine to schedule the process, four times that budget: the bound is a
 * property of the shutdown logic, computed from its configuration, not a speed target. What it catches is a
 * shutdown that waits for something else, such as the calls' Vault requests (held back far longer, below).
 */
const exitBoundMs = (graceMs: number) => 5 * (graceMs + CUT_OFF_MS);

interface Run {
  fx: CoreFixture;
  proxy: TcpProxy;
}

/** totp-core on a dev Vault behind a proxy that can slow Vault down; 50 labels registered while it is fast. */
async function start(graceMs: number): Promise<Run> {
  const vault = await startVault();
  const proxy = await startTcpProxy(Number(new URL(vault.addr).port));
  const fx = await startCoreFixture(
    "vault-kv",
    {
      VAULT_ADDR: proxy.url,
      // Every code reads Vault (through the slow proxy); Vault's slowness must not be taken for an outage.
      TOTP_CACHE_TTL_MS: "0",
      VAULT_TIMEOUT_MS: "30000",
      TOTP_SHUTDOWN_GRACE_MS: String(graceMs),
      TOTP_HEALTH_LISTEN: "127.0.0.1:0",
    },
    { vault },
  );
  const admin = fx.client("admin");
  for (let i = 0; i < IN_FLIGHT; i++) {
    await admin.registerSeed({
      label: label(i),
      otpauthUri: `otpauth://totp/x?secret=${new OTPAuth.Secret({ size: 20 }).base32}`,
    });
  }
  return { fx, proxy };
}

interface Outcome {
  codes: string[];
  exit: ExitStatus;
  /** The probe port's answer while the calls were draining. */
  drainingHealth: string;
  signalToExitMs: number;
}

/**
 * Sends IN_FLIGHT codes (one per label, so each is its own Vault read), waits until Vault has received every one of
 * them, then signals the core and collects how each call ended and how the process did.
 */
async function signalWithCallsInFlight(
  { fx, proxy }: Run,
  signal: NodeJS.Signals,
  vaultDelayMs = VAULT_DELAY_MS,
): Promise<Outcome> {
  // A deadline far beyond the grace period: a call that hangs shows as DEADLINE_EXCEEDED, never as a stuck test.
  const client = createTotpClient({ ...fx.core.clientOptions("admin"), maxAttempts: 1, deadlineMs: 60_000 });
  const probe = `127.0.0.1:${announcedPorts(fx.core).health}`;
  const reads = () => proxy.count(/^GET \/v1\/secret\/data\/totp\/users\/service\/admin\/slow-/);
  try {
    proxy.delayMs = vaultDelayMs;
    const calls = Array.from({ length: IN_FLIGHT }, (_, i) =>
      client.generateCode({ label: label(i) }).then(
        () => "OK",
        (err: { codeName?: string }) => err.codeName ?? String(err),
      ),
    );
    await eventually(() => reads() >= IN_FLIGHT, `${IN_FLIGHT} Vault reads in flight`);
    const signalled = performance.now();
    fx.core.process.kill(signal);
    // Timed from here, not from when the test gets round to looking: the checks below take time of their own.
    let exit: ExitStatus | undefined;
    let signalToExitMs = Number.NaN;
    void fx.core.process.exited.then((status) => {
      exit = status;
      signalToExitMs = performance.now() - signalled;
    });
    // Health goes NOT_SERVING at once, while the calls still drain (the probe port closes after them).
    let drainingHealth = "";
    await eventually(async () => {
      const answer = await checkHealth(probe, credentials.createInsecure());
      drainingHealth = typeof answer === "string" ? answer : `error ${answer.code}`;
      return drainingHealth !== "SERVING";
    }, "health leaving SERVING after the signal");
    // A new connection is not accepted any more.
    const late = createTotpClient({ ...fx.core.clientOptions("admin"), maxAttempts: 1 });
    expect((await failure(late.listLabels({}))).code).toBe(status.UNAVAILABLE);
    late.close();

    const codes = await Promise.all(calls);
    // Bounded: a process that never exits fails here rather than hanging the run.
    await eventually(() => exit !== undefined, "the process exiting");
    return { codes, exit: exit as ExitStatus, drainingHealth, signalToExitMs };
  } finally {
    client.close();
  }
}

describe("graceful shutdown with calls in flight", () => {
  let run: Run | undefined;
  afterEach(async () => {
    await run?.fx.close();
    await run?.proxy.close();
    run = undefined;
  });

  it.each<NodeJS.Signals>(["SIGTERM", "SIGINT"])(
    "on %s: health NOT_SERVING, the 50 calls in flight finish, exit 0 once they have, before the grace period ends",
    async (signal) => {
      const graceMs = 20_000;
      run = await start(graceMs);
      const outcome = await signalWithCallsInFlight(run, signal);
      expect(outcome.drainingHealth).toBe("NOT_SERVING");
      // The grace period is far longer than Vault's delay: every call in flight is answered, none is lost.
      expect(outcome.codes).toEqual(Array(IN_FLIGHT).fill("OK"));
      expect(outcome.exit).toEqual({ code: 0, signal: null });
      // With nothing left to wait for, the core exits: it does not sit out the grace period (18 s of margin).
      expect(outcome.signalToExitMs).toBeLessThan(graceMs);
      expect(run.fx.core.process.stdout).toContain(`"signal":"${signal}"`);
      console.info(
        `[measured] ${signal} with ${IN_FLIGHT} calls in flight: ` +
          `${outcome.codes.filter((c) => c === "OK").length} OK, ` +
          `${outcome.codes.filter((c) => c !== "OK").length} lost; exit after ${outcome.signalToExitMs.toFixed(0)} ms`,
      );
    },
  );

  it("answers what still runs when the grace period ends UNAVAILABLE (audited), exits 0 without waiting for Vault", async () => {
    const graceMs = 300;
    run = await start(graceMs);
    // Vault's delay outlasts the grace period, so the calls are still waiting on it when the grace ends; it also
    // outlasts the exit bound three times over, so a core that waited for those requests would miss the bound.
    const outcome = await signalWithCallsInFlight(run, "SIGTERM", 3 * exitBoundMs(graceMs));
    expect(outcome.codes).toEqual(Array(IN_FLIGHT).fill("UNAVAILABLE"));
    expect(outcome.exit).toEqual({ code: 0, signal: null });
    expect(outcome.signalToExitMs).toBeLessThan(exitBoundMs(graceMs));
    const stdout = run.fx.core.process.stdout;
    expect(stdout).toContain("grace period over");
    // Answered, so audited: a cut connection would have left no trace of these calls.
    const audited = stdout
      .split("\n")
      .filter((l) => l.includes('"log":"audit"') && l.includes('"method":"GenerateCode"'))
      .map((l) => JSON.parse(l).outcome);
    expect(audited).toEqual(Array(IN_FLIGHT).fill("UNAVAILABLE"));
    console.info(
      `[measured] SIGTERM past a 300 ms grace period: ${IN_FLIGHT} calls UNAVAILABLE; ` +
        `exit after ${outcome.signalToExitMs.toFixed(0)} ms`,
    );
  });
});
