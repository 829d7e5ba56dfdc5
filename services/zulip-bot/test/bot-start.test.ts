import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  eventually,
  freePort,
  makeTestPki,
  type RunningCore,
  runProcess,
  startTotpCore,
  startZulipServer,
  type TestPki,
  type ZulipServer,
  type ZulipUser,
} from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOT_POLICY, ZULIP_BOT_MAIN } from "./botFixture.js";

/** Every variable the bot reads, unset: the developer's own environment stays out of the process under test. */
const CLEAN_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  [
    "ZULIP_REALM",
    "ZULIP_EMAIL",
    "ZULIP_API_KEY",
    "ZULIP_API_KEY_FILE",
    "ZULIP_RC",
    "TOTP_ADDR",
    "TOTP_TLS_CERT",
    "TOTP_TLS_KEY",
    "TOTP_TLS_CA",
    "ZULIP_WEBHOOK_LISTEN",
    "ZULIP_WEBHOOK_TOKEN",
    "ZULIP_WEBHOOK_TOKEN_FILE",
    "ZULIP_ALLOWED_SENDERS",
    "ZULIP_STREAMS",
    "BOT_HEALTH_LISTEN",
  ].map((name) => [name, undefined]),
);

describe("the Zulip bot process: configuration errors, zuliprc, probes", () => {
  let pki: TestPki;
  let core: RunningCore;
  let zulip: ZulipServer;
  let bot: ZulipUser;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    pki = await makeTestPki(["zulip-bot"]);
    core = await startTotpCore({ pki, policy: BOT_POLICY([]) });
    zulip = await startZulipServer();
    bot = zulip.addBot({ fullName: "TOTP Bot" });
    dir = await mkdtemp(join(tmpdir(), "zulip-bot-start-"));
    const cert = pki.clients["zulip-bot"];
    env = {
      ...CLEAN_ENV,
      ZULIP_REALM: zulip.url,
      ZULIP_EMAIL: bot.email,
      ZULIP_API_KEY: bot.apiKey,
      TOTP_ADDR: core.address,
      TOTP_TLS_CERT: cert?.certPath,
      TOTP_TLS_KEY: cert?.keyPath,
      TOTP_TLS_CA: pki.caPath,
    };
  });
  afterAll(async () => {
    await zulip?.close();
    await core?.stop();
    await pki?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the bot to its exit; it must stop on its own. */
  async function exitOf(extra: NodeJS.ProcessEnv) {
    const handle = runProcess("node", [ZULIP_BOT_MAIN], { env: { ...env, ...extra } });
    const status = await handle.exited;
    return { status, stderr: handle.stderr, stdout: handle.stdout };
  }

  it("exits 2 with one line naming the variable that is missing or wrong", async () => {
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ ZULIP_REALM: undefined }, /^zulip-bot: configuration error: ZULIP_REALM: required/],
      [{ ZULIP_API_KEY: undefined }, /^zulip-bot: configuration error: ZULIP_API_KEY: required/],
      [{ TOTP_TLS_CA: join(dir, "missing.pem") }, /^zulip-bot: configuration error: TOTP_TLS_CA: cannot read/],
      [{ ZULIP_WEBHOOK_LISTEN: "127.0.0.1:0" }, /^zulip-bot: configuration error: ZULIP_WEBHOOK_TOKEN: required/],
      [{ ZULIP_API_KEY: "not-the-key" }, /^zulip-bot: configuration error: ZULIP_API_KEY: Zulip refused/],
    ];
    for (const [extra, message] of cases) {
      const { status, stderr, stdout } = await exitOf(extra);
      expect(status).toEqual({ code: 2, signal: null });
      expect(stderr).toMatch(message);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr + stdout).not.toContain(bot.apiKey);
    }
  });

  it("reads back what came while no queue existed even before it had seen any message", async () => {
    const carol = zulip.addUser({ fullName: "Carol Poe" });
    const handle = runProcess("node", [ZULIP_BOT_MAIN], { env });
    try {
      await handle.waitForOutput(/zulip-bot ready/, 30_000);
      const [first] = zulip.queues(bot);
      zulip.expireQueues(bot);
      zulip.sendDm(carol, bot, "whoami");
      await zulip.waitFor(() => zulip.queues(bot).some((q) => q.queueId !== first?.queueId), { what: "a new queue" });
      const reply = await zulip.waitFor(() =>
        zulip.messagesSeenBy(carol, { with: bot }).find((m) => m.senderId === bot.id),
      );
      expect(reply.visibleText).toContain(`zulip:${carol.id}`);
    } finally {
      expect(await handle.stop(30_000)).toEqual({ code: 0, signal: null });
    }
  });

  it("removes an API key given as a value from its process.env once read, and warns naming the variable", async () => {
    const reports = await mkdtemp(join(dir, "reports-"));
    // A Node diagnostic report lists the environment as the process has it at that moment (what a library or a
    // child would get); /proc/<pid>/environ keeps the environment the process started with, as the warning says.
    const handle = runProcess(
      "node",
      ["--report-on-signal", "--report-signal=SIGUSR2", `--report-directory=${reports}`, ZULIP_BOT_MAIN],
      { env },
    );
    try {
      await handle.waitForOutput(/zulip-bot ready/, 30_000);
      const warning = handle.stdout.split("\n").find((line) => line.includes("/proc/<pid>/environ"));
      expect(JSON.parse(warning ?? "{}").variables).toEqual(["ZULIP_API_KEY"]);
      const pid = handle.pid;
      if (pid === undefined) throw new Error("the process has no pid");
      process.kill(pid, "SIGUSR2");
      const file = await eventually(async () => (await readdir(reports)).find((name) => name.endsWith(".json")), {
        what: "the diagnostic report",
      });
      const report = await eventually(
        async () => JSON.parse(await readFile(join(reports, file), "utf8")) as { environmentVariables: object },
        { what: "the whole report" },
      );
      expect(report.environmentVariables).toHaveProperty("ZULIP_EMAIL");
      expect(report.environmentVariables).not.toHaveProperty("ZULIP_API_KEY");
      expect(JSON.stringify(report)).not.toContain(bot.apiKey);
      expect(await readFile(`/proc/${pid}/environ`, "latin1")).toContain(`ZULIP_API_KEY=${bot.apiKey}`);
    } finally {
      expect(await handle.stop(30_000)).toEqual({ code: 0, signal: null });
    }
  });

  it("starts from a zuliprc file, and answers its probes: ready while Zulip and totp-core are", async () => {
    const rc = join(dir, "zuliprc");
    await writeFile(rc, zulip.zuliprc(bot));
    const healthPort = await freePort();
    const handle = runProcess("node", [ZULIP_BOT_MAIN], {
      env: {
        ...env,
        ZULIP_REALM: undefined,
        ZULIP_EMAIL: undefined,
        ZULIP_API_KEY: undefined,
        ZULIP_RC: rc,
        BOT_HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      },
    });
    try {
      await handle.waitForOutput(/zulip-bot ready/, 30_000);
      const probe = async (path: string) => {
        const response = await fetch(`http://127.0.0.1:${healthPort}${path}`);
        return { status: response.status, body: await response.text() };
      };
      expect(await probe("/healthz")).toEqual({ status: 200, body: "ok\n" });
      expect(await probe("/readyz")).toEqual({ status: 200, body: "ready\n" });
      const listen = core.env.TOTP_LISTEN;
      await core.stop();
      const down = await zulip.waitFor(async () => {
        const answer = await probe("/readyz");
        return answer.status === 503 ? answer : undefined;
      });
      expect(down.body).toMatch(/^totp-core: /);
      core = await startTotpCore({ pki, policy: BOT_POLICY([]), env: { TOTP_LISTEN: listen } });
      await zulip.waitFor(async () => (await probe("/readyz")).status === 200, { what: "ready again" });
    } finally {
      expect(await handle.stop(30_000)).toEqual({ code: 0, signal: null });
    }
    expect(handle.stdout + handle.stderr).not.toContain(bot.apiKey);
  });
});
