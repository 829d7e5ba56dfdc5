import { randomBytes } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createTotpClient } from "@totp-custody/client";
import {
  freePort,
  makeTestPki,
  newSecret,
  type RunningCore,
  runProcess,
  startTotpCore,
  type TestPki,
  TOTP_CORE_MAIN,
} from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const POLICY = `
clients:
  spiffe://totp.internal/deployer: { principal: service:deployer }
selfService: true
`;

describe("one process per seed file", () => {
  let pki: TestPki;
  const cores: RunningCore[] = [];

  beforeAll(async () => {
    pki = await makeTestPki(["deployer"]);
  });
  afterAll(async () => {
    for (const core of cores) await core.stop();
    await pki?.cleanup();
  });

  it("refuses to start a second totp-core on the same file, naming the holder; a kill -9 leaves no lock that blocks", async () => {
    const first = await startTotpCore({ pki, policy: POLICY });
    cores.push(first);
    const seedFile = first.env.TOTP_FILE_PATH ?? "";
    const lock = JSON.parse(await readFile(`${seedFile}.lock`, "utf8")) as { pid: number };
    expect(lock.pid).toBe(first.process.pid);

    const second = runProcess("node", [TOTP_CORE_MAIN], {
      env: { ...first.env, TOTP_LISTEN: `127.0.0.1:${await freePort()}` },
      cwd: first.dir,
    });
    expect(await second.exited).toEqual({ code: 2, signal: null });
    expect(second.stderr).toMatch(
      new RegExp(`TOTP_FILE_PATH: .*is in use by totp-core pid ${first.process.pid} on .* since .*lock file`),
    );

    // The first is unaffected: it still stores and serves.
    const client = createTotpClient({ ...first.clientOptions("deployer"), maxAttempts: 1 });
    await client.registerSeed({ label: "kept", otpauthUri: `otpauth://totp/x?secret=${newSecret()}` });
    client.close();

    first.process.kill("SIGKILL");
    await first.process.exited;
    const restarted = await startTotpCore({
      pki,
      policy: POLICY,
      env: { TOTP_FILE_PATH: seedFile, TOTP_FILE_KEY: first.env.TOTP_FILE_KEY },
    });
    cores.push(restarted);
    const again = createTotpClient({ ...restarted.clientOptions("deployer"), maxAttempts: 1 });
    expect((await again.listLabels({})).labels.map((l) => l.label)).toEqual(["kept"]);
    again.close();
  });

  it("removes its lock on a clean stop", async () => {
    const dir = await mkdtemp(join(pki.dir, "store-"));
    const seedFile = join(dir, "seeds.enc");
    const env = { TOTP_FILE_PATH: seedFile, TOTP_FILE_KEY: randomBytes(32).toString("hex") };
    const core = await startTotpCore({ pki, policy: POLICY, env });
    await core.process.stop();
    await expect(readFile(`${seedFile}.lock`)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
