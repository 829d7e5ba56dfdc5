import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createTotpClient, type TotpClient, TotpClientError } from "@totp-custody/client";
import {
  expectedCode,
  freePort,
  makeTestPki,
  newSecret,
  type RedisServer,
  type RunningCore,
  startRedis,
  startTotpCore,
  startVault,
  type TestPki,
  type Vault,
} from "@totp-custody/testkit";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INVALIDATION_CHANNEL } from "../src/redis/RedisLink.js";
import { CLIENT_NAMES, TEST_POLICY } from "./grpcHarness.js";

// A TTL far above the freshness interval: a replica that still answered after the interval would answer for 30 s,
// so a refusal within the bound shows the freshness check (or Redis) at work, not the TTL.
const CACHE_TTL_MS = 30_000;
/** The bound: no replica serves a deleted or overwritten seed's codes this long after the OK answer. */
const REVOCATION_BOUND_MS = 1000;
/**
 * With Redis the freshness check is pushed out to the TTL, so that only the published invalidation can bring a
 * change within the bound: a broken subscription fails the test instead of passing on the freshness check.
 */
const NO_FRESHNESS_CHECK = { TOTP_CACHE_FRESHNESS_MS: String(CACHE_TTL_MS) };
/** Only stops a poll that would never end, so that a replica past the bound still gives its figure. */
const POLL_GIVE_UP_MS = 8_000;
const POLL_EVERY_MS = 10;
/**
 * With a per-label limit of CODES_PER_LABEL a minute, shared by the replicas, warming takes 3 and each of the two
 * polled replicas polls this often: the 17 left last about 400 ms, many times what a published invalidation takes
 * (under 40 ms measured), while the figures keep a 50 ms grain. An invalidation slower than that fails the test as
 * still RESOURCE_EXHAUSTED, which is stricter than the 1 s bound.
 */
const POLL_LIMITED_EVERY_MS = 50;
const CODES_PER_LABEL = 20;
const bot = "telegram-bot";

interface Replicas {
  cores: RunningCore[];
  clients: TotpClient[];
  metricsPorts: number[];
  stop(): Promise<void>;
}

/** `count` totp-core processes on one Vault, each with its metrics port and a client of its own. */
async function startReplicas(pki: TestPki, count: number, env: NodeJS.ProcessEnv): Promise<Replicas> {
  const cores: RunningCore[] = [];
  const metricsPorts: number[] = [];
  for (let i = 0; i < count; i++) {
    const metricsPort = await freePort();
    metricsPorts.push(metricsPort);
    cores.push(
      await startTotpCore({
        pki,
        policy: TEST_POLICY,
        env: {
          TOTP_CACHE_TTL_MS: String(CACHE_TTL_MS),
          TOTP_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
          TOTP_RATE_REQUESTS_PER_PRINCIPAL: "1000000",
          TOTP_RATE_CODES_PER_LABEL: "1000000",
          ...env,
        },
      }),
    );
  }
  const clients = cores.map((core) => createTotpClient({ ...core.clientOptions(bot), maxAttempts: 1 }));
  return {
    cores,
    clients,
    metricsPorts,
    async stop() {
      for (const client of clients) client.close();
      await Promise.all(cores.map((core) => core.stop()));
    },
  };
}

const vaultEnv = (vault: Vault, store = "vault-kv") => ({
  TOTP_STORE: store,
  VAULT_ADDR: vault.addr,
  VAULT_TOKEN: vault.token,
});

const uriOf = (secret: string) => `otpauth://totp/x?secret=${secret}`;

/** The outcome of one GenerateCode: the code and the server's time, or the error's status name. */
async function codeOrError(client: TotpClient, label: string, onBehalfOf: string) {
  try {
    const answer = await client.generateCode({ label, onBehalfOf });
    return { code: answer.code, at: answer.serverTime?.getTime() ?? Date.now() };
  } catch (err) {
    if (err instanceof TotpClientError) return { error: err.codeName };
    throw err;
  }
}

/**
 * Polls every `everyMs` until `done` holds for what `client` answers; the milliseconds from `since` until it did.
 * Fails when it does not within POLL_GIVE_UP_MS, far below the cache TTL, or when the polls spent a rate limit
 * before it did (then nothing more could be seen).
 */
async function msUntil(
  since: number,
  poll: () => Promise<Awaited<ReturnType<typeof codeOrError>>>,
  done: (answer: Awaited<ReturnType<typeof codeOrError>>) => boolean,
  everyMs = POLL_EVERY_MS,
): Promise<number> {
  for (;;) {
    const answer = await poll();
    const elapsed = performance.now() - since;
    if (done(answer)) return elapsed;
    if (elapsed > POLL_GIVE_UP_MS || answer.error === "RESOURCE_EXHAUSTED") {
      throw new Error(`still ${JSON.stringify(answer)} after ${Math.round(elapsed)} ms`);
    }
    await sleep(everyMs);
  }
}

/** Metric samples of one replica: `name{labels} value` lines by their text before the value. */
async function metricsOf(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("totp_")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/**
 * Deletes a label on replica 0 after every replica has it cached, then the time until each other replica refuses
 * it; then overwrites another label on replica 0 and the time until each other replica stops answering the old
 * seed's codes (and answers the new seed's).
 */
async function measureRevocation(replicas: Replicas, principal: string, everyMs = POLL_EVERY_MS) {
  const [writer, ...others] = replicas.clients as [TotpClient, ...TotpClient[]];
  const warm = async (label: string) => {
    for (const client of replicas.clients) {
      expect((await codeOrError(client, label, principal)).code).toMatch(/^\d{6}$/);
    }
  };
  await writer.registerSeed({ label: "gone", onBehalfOf: principal, otpauthUri: uriOf(newSecret()) });
  await warm("gone");
  await writer.deleteSeed({ label: "gone", onBehalfOf: principal });
  let since = performance.now();
  const deleteMs = await Promise.all(
    others.map((client) =>
      msUntil(
        since,
        () => codeOrError(client, "gone", principal),
        (answer) => answer.error === "NOT_FOUND",
        everyMs,
      ),
    ),
  );

  const oldSecret = newSecret();
  const newSecretText = newSecret();
  await writer.registerSeed({ label: "rotated", onBehalfOf: principal, otpauthUri: uriOf(oldSecret) });
  await warm("rotated");
  await writer.registerSeed({
    label: "rotated",
    onBehalfOf: principal,
    otpauthUri: uriOf(newSecretText),
    overwrite: true,
  });
  since = performance.now();
  const overwriteMs = await Promise.all(
    others.map((client) =>
      msUntil(
        since,
        () => codeOrError(client, "rotated", principal),
        // The new seed's code, which (but for a one-in-a-million coincidence) is not the old one's.
        (answer) => answer.code !== undefined && answer.code === expectedCode(newSecretText, answer.at),
        everyMs,
      ),
    ),
  );
  return { deleteMs, overwriteMs };
}

const round = (values: number[]) => values.map((ms) => Math.round(ms));

/** Logs the figures (for the report), then holds each replica's delete and overwrite to the bound. */
function expectWithinBound(what: string, { deleteMs, overwriteMs }: { deleteMs: number[]; overwriteMs: number[] }) {
  console.log(`revocation ${what}: delete seen after ${round(deleteMs)} ms, overwrite after ${round(overwriteMs)} ms`);
  for (const ms of [...deleteMs, ...overwriteMs]) expect(ms).toBeLessThan(REVOCATION_BOUND_MS);
}

/** Waits (bounded) until `count` connections listen to the invalidations on `redis`, as Redis itself counts them. */
async function waitForSubscribers(redis: RedisServer, count: number): Promise<void> {
  const probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    const since = performance.now();
    for (;;) {
      const [, subscribers] = (await probe.pubsub("NUMSUB", INVALIDATION_CHANNEL)) as [string, number];
      if (subscribers >= count) return;
      if (performance.now() - since > POLL_GIVE_UP_MS) {
        throw new Error(`${subscribers} of ${count} replicas subscribed to invalidations`);
      }
      await sleep(50);
    }
  } finally {
    probe.disconnect();
  }
}

/** GenerateCode `calls` times for one label, spread round-robin over the replicas; the OK answers and the rest. */
async function roundRobin(replicas: Replicas, label: string, principal: string, calls: number) {
  let ok = 0;
  const refusals: string[] = [];
  for (let i = 0; i < calls; i++) {
    const client = replicas.clients[i % replicas.clients.length] as TotpClient;
    const answer = await codeOrError(client, label, principal);
    if (answer.code !== undefined) ok++;
    else refusals.push(answer.error ?? "");
  }
  return { ok, refusals };
}

describe("three replicas on one OpenBao, without Redis: the freshness check bounds revocation", () => {
  let pki: TestPki;
  let vault: Vault;
  let kv: Replicas;
  let totp: Replicas;
  beforeAll(async () => {
    pki = await makeTestPki([...CLIENT_NAMES]);
    vault = await startVault();
    await vault.enableTotp();
    kv = await startReplicas(pki, 3, vaultEnv(vault));
    totp = await startReplicas(pki, 2, vaultEnv(vault, "vault-totp"));
  });
  afterAll(async () => {
    await kv?.stop();
    await totp?.stop();
    await vault?.stop();
    await pki?.cleanup();
  });

  it("vault-kv: after a delete or an overwrite on one replica, the others stop serving the old seed", async () => {
    expectWithinBound("without Redis (vault-kv, freshness 500 ms)", await measureRevocation(kv, "telegram:2001"));
  });

  it("vault-totp: the same through the label's metadata entry", async () => {
    expectWithinBound("without Redis (vault-totp, freshness 500 ms)", await measureRevocation(totp, "telegram:2002"));
  });

  it("counts limits per process: each replica gives its own allowance", async () => {
    // Not shared without Redis, as the README says: L per replica.
    const limited = await startReplicas(pki, 2, { ...vaultEnv(vault), TOTP_RATE_CODES_PER_LABEL: "3" });
    try {
      await limited.clients[0]?.registerSeed({
        label: "own",
        onBehalfOf: "telegram:2003",
        otpauthUri: uriOf(newSecret()),
      });
      const { ok } = await roundRobin(limited, "own", "telegram:2003", 8);
      expect(ok).toBe(6);
    } finally {
      await limited.stop();
    }
  });
});

describe("three replicas on one OpenBao sharing a Redis with a password", () => {
  let pki: TestPki;
  let vault: Vault;
  let redis: RedisServer;
  let replicas: Replicas;
  beforeAll(async () => {
    pki = await makeTestPki([...CLIENT_NAMES]);
    vault = await startVault();
    redis = await startRedis({ password: newSecret(10) });
    replicas = await startReplicas(pki, 3, {
      ...vaultEnv(vault),
      ...NO_FRESHNESS_CHECK,
      TOTP_REDIS_URL: redis.url,
      TOTP_RATE_CODES_PER_LABEL: String(CODES_PER_LABEL),
    });
    for (const core of replicas.cores) await core.process.waitForOutput(/Redis available/, 10_000);
    await waitForSubscribers(redis, 3);
  });
  afterAll(async () => {
    await replicas?.stop();
    await redis?.stop();
    await vault?.stop();
    await pki?.cleanup();
  });

  it("drops a deleted or overwritten seed on every replica as soon as the invalidation arrives", async () => {
    expectWithinBound(
      "with Redis (vault-kv, freshness 30000 ms)",
      await measureRevocation(replicas, "telegram:3001", POLL_LIMITED_EVERY_MS),
    );
  });

  it("gives a principal its call limit once across the three replicas, calls round-robin over several labels", async () => {
    const perPrincipal = 30;
    const limited = await startReplicas(pki, 3, {
      ...vaultEnv(vault),
      TOTP_REDIS_URL: redis.url,
      TOTP_RATE_REQUESTS_PER_PRINCIPAL: String(perPrincipal),
    });
    try {
      for (const core of limited.cores) await core.process.waitForOutput(/Redis available/, 10_000);
      const principal = "telegram:3004";
      const labels = ["one", "two", "three"];
      // Each registration is a call too, drawn on the same limit.
      for (const [i, label] of labels.entries()) {
        await limited.clients[i]?.registerSeed({ label, onBehalfOf: principal, otpauthUri: uriOf(newSecret()) });
      }
      const calls = 3 * perPrincipal;
      let ok = labels.length;
      const refusals = new Set<string>();
      for (let i = 0; i < calls; i++) {
        const client = limited.clients[i % limited.clients.length] as TotpClient;
        const answer = await codeOrError(client, labels[Math.floor(i / 3) % labels.length] ?? "", principal);
        if (answer.code !== undefined) ok++;
        else refusals.add(answer.error ?? "");
      }
      console.log(`shared call limit ${perPrincipal}/min over 3 replicas: ${ok} OK of ${calls + labels.length} calls`);
      expect(ok).toBeGreaterThanOrEqual(perPrincipal);
      expect(ok).toBeLessThanOrEqual(perPrincipal + 2);
      expect(refusals).toEqual(new Set(["RESOURCE_EXHAUSTED"]));
    } finally {
      await limited.stop();
    }
  });

  it("gives a principal its per-label limit once across the three replicas, calls round-robin", async () => {
    const principal = "telegram:3002";
    await replicas.clients[0]?.registerSeed({
      label: "shared-limit",
      onBehalfOf: principal,
      otpauthUri: uriOf(newSecret()),
    });
    const { ok, refusals } = await roundRobin(replicas, "shared-limit", principal, 3 * CODES_PER_LABEL + 3);
    console.log(`shared limit ${CODES_PER_LABEL}/min over 3 replicas: ${ok} OK of ${3 * CODES_PER_LABEL + 3} calls`);
    expect(ok).toBeGreaterThanOrEqual(CODES_PER_LABEL);
    expect(ok).toBeLessThanOrEqual(CODES_PER_LABEL + 2);
    expect(new Set(refusals)).toEqual(new Set(["RESOURCE_EXHAUSTED"]));
  });

  it("keeps serving with per-process limits while Redis is down, says so once, and shares again once it is back", async () => {
    const principal = "telegram:3003";
    await replicas.clients[0]?.registerSeed({ label: "outage", onBehalfOf: principal, otpauthUri: uriOf(newSecret()) });
    await redis.halt();

    // No call fails for want of Redis: each replica counts the label's limit on its own, L each.
    const calls = 3 * CODES_PER_LABEL + 3;
    const during = await roundRobin(replicas, "outage", principal, calls);
    expect(during.ok).toBe(3 * CODES_PER_LABEL);
    expect(new Set(during.refusals)).toEqual(new Set(["RESOURCE_EXHAUSTED"]));
    for (const [i, port] of replicas.metricsPorts.entries()) {
      const samples = await metricsOf(port);
      expect(samples.get("totp_redis_up")).toBe(0);
      expect(samples.get("totp_redis_fallback_total")).toBeGreaterThanOrEqual(calls / 3);
      const stdout = replicas.cores[i]?.process.stdout ?? "";
      expect(stdout.match(/Redis unavailable/g)).toHaveLength(1);
    }

    await redis.start();
    for (const port of replicas.metricsPorts) {
      await msUntil(
        performance.now(),
        async () => ({ code: String((await metricsOf(port)).get("totp_redis_up")), at: 0 }),
        (answer) => answer.code === "1",
      );
    }
    await replicas.clients[0]?.registerSeed({ label: "after", onBehalfOf: principal, otpauthUri: uriOf(newSecret()) });
    const after = await roundRobin(replicas, "after", principal, calls);
    expect(after.ok).toBeGreaterThanOrEqual(CODES_PER_LABEL);
    expect(after.ok).toBeLessThanOrEqual(CODES_PER_LABEL + 2);
    for (const core of replicas.cores) expect(core.process.stdout.match(/Redis available/g)).toHaveLength(2);
  });
});

describe("Redis as an option, not a dependency", () => {
  let pki: TestPki;
  let vault: Vault;
  beforeAll(async () => {
    pki = await makeTestPki([...CLIENT_NAMES]);
    vault = await startVault();
  });
  afterAll(async () => {
    await vault?.stop();
    await pki?.cleanup();
  });

  it("starts when the configured Redis does not answer, says so in one line, serves, and joins it once it answers", async () => {
    const nobody = await freePort();
    const password = newSecret(10);
    const replicas = await startReplicas(pki, 2, {
      ...vaultEnv(vault),
      ...NO_FRESHNESS_CHECK,
      TOTP_REDIS_URL: `redis://:${password}@127.0.0.1:${nobody}`,
    });
    let redis: RedisServer | undefined;
    try {
      const [writer, reader] = replicas.clients as [TotpClient, TotpClient];
      for (const core of replicas.cores) {
        const lines = core.process.stdout.split("\n").filter((line) => /Redis/.test(line));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/Redis unreachable at start: rate limits are per process until it answers/);
        expect(lines[0]).toContain(`127.0.0.1:${nobody}`);
        expect(lines[0]).not.toContain(password);
      }
      const principal = "telegram:4001";
      await writer.registerSeed({ label: "works", onBehalfOf: principal, otpauthUri: uriOf(newSecret()) });
      expect((await codeOrError(writer, "works", principal)).code).toMatch(/^\d{6}$/);
      for (const port of replicas.metricsPorts) expect((await metricsOf(port)).get("totp_redis_up")).toBe(0);

      // Redis comes up where they were told to look: both take it up, invalidations included.
      redis = await startRedis({ port: nobody, password });
      for (const core of replicas.cores) await core.process.waitForOutput(/Redis available/, 10_000);
      for (const port of replicas.metricsPorts) expect((await metricsOf(port)).get("totp_redis_up")).toBe(1);
      await waitForSubscribers(redis, 2);
      expect((await codeOrError(reader, "works", principal)).code).toMatch(/^\d{6}$/);
      await writer.deleteSeed({ label: "works", onBehalfOf: principal });
      const deleteMs = await msUntil(
        performance.now(),
        () => codeOrError(reader, "works", principal),
        (answer) => answer.error === "NOT_FOUND",
      );
      console.log(
        `revocation with Redis picked up after start (freshness 30000 ms): delete seen after ${Math.round(deleteMs)} ms`,
      );
      expect(deleteMs).toBeLessThan(REVOCATION_BOUND_MS);
    } finally {
      await replicas.stop();
      await redis?.stop();
    }
  });

  it("keeps answering while Redis hangs: no call waits on it, and it is picked up again once it answers", async () => {
    const redis = await startRedis();
    const replicas = await startReplicas(pki, 1, {
      ...vaultEnv(vault),
      TOTP_REDIS_URL: redis.url,
      TOTP_RATE_CODES_PER_LABEL: String(CODES_PER_LABEL),
    });
    const [core] = replicas.cores as [RunningCore];
    const metricsPort = replicas.metricsPorts[0] ?? 0;
    // One attempt with a deadline far above TOTP_REDIS_TIMEOUT_MS (100 ms) and far below a TCP timeout: a call
    // that waited for the frozen server's answer would fail with DEADLINE_EXCEEDED.
    const client = createTotpClient({ ...core.clientOptions(bot), maxAttempts: 1, deadlineMs: 2000 });
    try {
      await core.process.waitForOutput(/Redis available/, 10_000);
      const principal = "telegram:4002";
      await client.registerSeed({ label: "hang", onBehalfOf: principal, otpauthUri: uriOf(newSecret()) });
      redis.freeze();
      const answers = [];
      for (let i = 0; i < CODES_PER_LABEL + 3; i++) answers.push(await codeOrError(client, "hang", principal));
      const outcomes = answers.map((answer) => answer.error ?? "OK");
      // The per-process insurance limit takes over with the same allowance; nothing fails for want of Redis.
      expect(outcomes.filter((o) => o === "OK")).toHaveLength(CODES_PER_LABEL);
      expect(new Set(outcomes.filter((o) => o !== "OK"))).toEqual(new Set(["RESOURCE_EXHAUSTED"]));
      const during = await metricsOf(metricsPort);
      expect(during.get("totp_redis_up")).toBe(0);
      expect(during.get("totp_redis_fallback_total")).toBeGreaterThanOrEqual(CODES_PER_LABEL);
      expect(core.process.stdout.match(/Redis unavailable/g)).toHaveLength(1);

      redis.thaw();
      await core.process.waitForOutput(/Redis available(.|\n)*Redis available/, 10_000);
      expect((await metricsOf(metricsPort)).get("totp_redis_up")).toBe(1);
    } finally {
      redis.thaw();
      client.close();
      await replicas.stop();
      await redis.stop();
    }
  });

  it("logs in with the password of TOTP_REDIS_PASSWORD_FILE and shares the limits; a wrong one falls back", async () => {
    const password = newSecret(10);
    const redis = await startRedis({ password });
    const dir = await mkdtemp(join(tmpdir(), "totp-redis-password-"));
    const passwordFile = join(dir, "password");
    // A Secret mounted from a file often ends in a newline.
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const bare = `redis://127.0.0.1:${redis.port}`;
    const env = { ...vaultEnv(vault), TOTP_REDIS_URL: bare, TOTP_RATE_CODES_PER_LABEL: String(CODES_PER_LABEL) };
    const replicas = await startReplicas(pki, 2, { ...env, TOTP_REDIS_PASSWORD_FILE: passwordFile });
    const wrong = await startReplicas(pki, 1, { ...env, TOTP_REDIS_PASSWORD: newSecret(10) });
    try {
      for (const core of replicas.cores) await core.process.waitForOutput(/Redis available/, 10_000);
      for (const port of replicas.metricsPorts) expect((await metricsOf(port)).get("totp_redis_up")).toBe(1);
      const principal = "telegram:4003";
      await replicas.clients[0]?.registerSeed({ label: "auth", onBehalfOf: principal, otpauthUri: uriOf(newSecret()) });
      const { ok, refusals } = await roundRobin(replicas, "auth", principal, 2 * CODES_PER_LABEL + 2);
      expect(ok).toBeGreaterThanOrEqual(CODES_PER_LABEL);
      expect(ok).toBeLessThanOrEqual(CODES_PER_LABEL + 2);
      expect(new Set(refusals)).toEqual(new Set(["RESOURCE_EXHAUSTED"]));

      // Refused by the server: one line naming the address and Redis's reason, never the password; calls served.
      const [core] = wrong.cores as [RunningCore];
      const lines = core.process.stdout.split("\n").filter((line) => /Redis/.test(line));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/Redis unreachable at start: rate limits are per process until it answers/);
      expect(lines[0]).toMatch(/WRONGPASS/);
      const client = wrong.clients[0] as TotpClient;
      await client.registerSeed({ label: "wrong", onBehalfOf: principal, otpauthUri: uriOf(newSecret()) });
      const outcomes = [];
      for (let i = 0; i < CODES_PER_LABEL; i++) outcomes.push((await codeOrError(client, "wrong", principal)).error);
      expect(outcomes.filter((error) => error !== undefined)).toEqual([]);
      expect((await metricsOf(wrong.metricsPorts[0] ?? 0)).get("totp_redis_up")).toBe(0);
      for (const running of [...replicas.cores, core]) expect(running.process.stdout).not.toContain(password);
    } finally {
      await replicas.stop();
      await wrong.stop();
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("speaks TLS to a rediss:// URL with TOTP_REDIS_CA_FILE", async () => {
    const redis = await startRedis({
      tls: { certPath: pki.server.certPath, keyPath: pki.server.keyPath, caPath: pki.caPath },
    });
    const replicas = await startReplicas(pki, 1, {
      ...vaultEnv(vault),
      TOTP_REDIS_URL: redis.url,
      TOTP_REDIS_CA_FILE: pki.caPath,
    });
    try {
      await replicas.cores[0]?.process.waitForOutput(/Redis available/, 10_000);
      expect((await metricsOf(replicas.metricsPorts[0] ?? 0)).get("totp_redis_up")).toBe(1);
    } finally {
      await replicas.stop();
      await redis.stop();
    }
  });
});
