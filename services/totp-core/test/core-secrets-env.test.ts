import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTestPki, type RunningCore, startTotpCore, type TestPki } from "@totp-custody/testkit";
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

  it("keeps a key given as TOTP_FILE_KEY_FILE out of /proc/<pid>/environ, and says nothing", async () => {
    const key = randomBytes(32).toString("hex");
    const keyFile = join(pki.dir, "file-key");
    await writeFile(keyFile, key, { mode: 0o600 });
    // An empty TOTP_FILE_KEY is unset, replacing the value startTotpCore would give.
    const core = await startTotpCore({ pki, policy: POLICY, env: { TOTP_FILE_KEY: "", TOTP_FILE_KEY_FILE: keyFile } });
    cores.push(core);
    expect(core.process.stdout).not.toMatch(WARNING);
    const environ = await readFile(`/proc/${core.process.pid}/environ`, "latin1");
    expect(environ).toContain("TOTP_FILE_KEY_FILE=");
    expect(environ).not.toContain(key);
  });
});
