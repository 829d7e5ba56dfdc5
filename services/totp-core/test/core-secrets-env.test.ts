import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, makeTestPki, type RunningCore, startTotpCore, type TestPki } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const POLICY = "clients: {}\n";
const WARNING = /secrets given as environment values stay readable in \/proc\/<pid>\/environ/;

describe("secrets in the environment", () => {
  let pki: TestPki;
  const cores: RunningCore[] = [];

  beforeAll(async () => {
    pki = await makeTestPki(["client"]);
  });
  afterAll(async () => {
    for (const core of cores) await core.stop();
    await pki?.cleanup();
  });

  it("warns, naming the variable and not its value, when the file key is an environment value", async () => {
    const key = randomBytes(32).toString("hex");
    const core = await startTotpCore({ pki, policy: POLICY, env: { TOTP_FILE_KEY: key } });
    cores.push(core);
    const warning = core.process.stdout.split("\n").find((line) => WARNING.test(line));
    expect(JSON.parse(warning ?? "{}").variables).toEqual(["TOTP_FILE_KEY"]);
    expect(core.process.stdout + core.process.stderr).not.toContain(key);
  });

  it("removes a key given as a value from its process.env, while /proc/<pid>/environ keeps it as the warning says", async () => {
    const key = randomBytes(32).toString("hex");
    const reports = await mkdtemp(join(tmpdir(), "core-report-"));
    try {
      // A Node diagnostic report lists the environment as the process has it at that moment (what a library or a
      // child would get), unlike /proc/<pid>/environ, which the kernel keeps as the process started.
      const core = await startTotpCore({
        pki,
        policy: POLICY,
        env: { TOTP_FILE_KEY: key },
        nodeArgs: ["--report-on-signal", "--report-signal=SIGUSR2", `--report-directory=${reports}`],
      });
      cores.push(core);
      const pid = core.process.pid;
      if (pid === undefined) throw new Error("the process has no pid");
      process.kill(pid, "SIGUSR2");
      const file = await eventually(async () => (await readdir(reports)).find((name) => name.endsWith(".json")), {
        what: "the diagnostic report",
        timeoutMs: 10_000,
      });
      const report = await eventually(
        async () => JSON.parse(await readFile(join(reports, file), "utf8")) as { environmentVariables: object },
        { what: "the whole report" },
      );
      expect(report.environmentVariables).toHaveProperty("TOTP_FILE_PATH");
      expect(report.environmentVariables).not.toHaveProperty("TOTP_FILE_KEY");
      expect(JSON.stringify(report)).not.toContain(key);
      expect(await readFile(`/proc/${pid}/environ`, "latin1")).toContain(`TOTP_FILE_KEY=${key}`);
    } finally {
      await rm(reports, { recursive: true, force: true });
    }
  });
});
