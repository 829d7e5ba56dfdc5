import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, runProcess, type TestPki, TOTP_CORE_MAIN } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, it } from "vitest";
import { FileStore } from "../src/store/FileStore.js";

/*
 * The built core, started as an operator would with one setting wrong each time: every file or address it cannot
 * use stops the start like a bad value in the environment, with one line on stderr naming the variable, its value
 * and the reason, exit code 2 and no stack trace.
 */

interface Fixture {
  dir: string;
  pki: TestPki;
  /** A loopback port that a listener of this test holds. */
  busyPort: number;
  /** A file store created with another key than the one each start is given. */
  seedFile: string;
}

interface Case {
  env: NodeJS.ProcessEnv;
  /** The whole stderr line after "totp-core: configuration error: ", or a pattern for it when it has a random part. */
  line: string | RegExp;
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const CASES: Array<[string, (f: Fixture) => Case]> = [
  [
    "a certificate file that does not exist",
    ({ dir }) => ({
      env: { TOTP_TLS_CERT: join(dir, "missing/cert.pem") },
      line: `TOTP_TLS_CERT: cannot open ${join(dir, "missing/cert.pem")} (ENOENT: no such file or directory)`,
    }),
  ],
  [
    "a certificate path that is a folder",
    ({ dir }) => ({
      env: { TOTP_TLS_CERT: dir },
      line: `TOTP_TLS_CERT: cannot read ${dir} (EISDIR: illegal operation on a directory)`,
    }),
  ],
  [
    "a key that is not the certificate's",
    ({ pki }) => ({
      env: { TOTP_TLS_KEY: pki.clients.client?.keyPath },
      line: `TOTP_TLS_KEY: ${pki.clients.client?.keyPath} is not the key of ${pki.server.certPath}`,
    }),
  ],
  [
    "a key file that holds no key",
    ({ pki }) => ({
      env: { TOTP_TLS_KEY: pki.caPath },
      line: new RegExp(`^TOTP_TLS_KEY: ${literal(pki.caPath)} holds no usable PEM private key \\(.+\\)$`),
    }),
  ],
  [
    "a CA file that does not exist",
    ({ dir }) => ({
      env: { TOTP_TLS_CA: join(dir, "missing/ca.pem") },
      line: `TOTP_TLS_CA: cannot open ${join(dir, "missing/ca.pem")} (ENOENT: no such file or directory)`,
    }),
  ],
  [
    "a CA file that holds no certificate",
    ({ dir }) => ({
      env: { TOTP_TLS_CA: join(dir, "policy.yaml") },
      line: new RegExp(`^TOTP_TLS_CA: ${literal(join(dir, "policy.yaml"))} holds no usable PEM certificate \\(.+\\)$`),
    }),
  ],
  [
    "a policy file that does not exist",
    ({ dir }) => ({
      env: { TOTP_POLICY_FILE: join(dir, "missing.yaml") },
      line: `TOTP_POLICY_FILE: ${join(dir, "missing.yaml")}: cannot read the policy file (ENOENT)`,
    }),
  ],
  [
    "a policy file that is not valid YAML",
    ({ dir }) => ({
      env: { TOTP_POLICY_FILE: join(dir, "broken.yaml") },
      line: new RegExp(`^TOTP_POLICY_FILE: ${literal(join(dir, "broken.yaml"))}: YAML syntax error at line \\d+`),
    }),
  ],
  [
    "a seed file in a folder that does not exist",
    ({ dir }) => ({
      env: { TOTP_FILE_PATH: join(dir, "missing/seeds.enc") },
      // The store first takes its lock, written as a temporary file beside it: that is the file the system refused.
      line: new RegExp(
        `^TOTP_FILE_PATH: cannot open ${literal(join(dir, "missing/seeds.enc"))}\\.lock\\.\\S+ \\(ENOENT: no such file or directory\\)$`,
      ),
    }),
  ],
  [
    "a seed file key that does not decrypt the existing file",
    ({ seedFile }) => ({
      env: { TOTP_FILE_PATH: seedFile },
      line: `TOTP_FILE_PATH: TOTP_FILE_KEY does not decrypt ${seedFile}: wrong key or corrupted file`,
    }),
  ],
  [
    "an audit file in a folder that does not exist",
    ({ dir }) => ({
      env: { TOTP_AUDIT_FILE: join(dir, "missing/audit.log") },
      line: `TOTP_AUDIT_FILE: cannot open ${join(dir, "missing/audit.log")} (ENOENT: no such file or directory)`,
    }),
  ],
  [
    "a gRPC address already in use",
    ({ busyPort }) => ({
      env: { TOTP_LISTEN: `127.0.0.1:${busyPort}` },
      line: `TOTP_LISTEN: 127.0.0.1:${busyPort} is already in use`,
    }),
  ],
  [
    "a health address already in use",
    ({ busyPort }) => ({
      env: { TOTP_HEALTH_LISTEN: `127.0.0.1:${busyPort}` },
      line: `TOTP_HEALTH_LISTEN: 127.0.0.1:${busyPort} is already in use`,
    }),
  ],
  [
    "a metrics address already in use",
    ({ busyPort }) => ({
      env: { TOTP_METRICS_LISTEN: `127.0.0.1:${busyPort}` },
      line: `TOTP_METRICS_LISTEN: 127.0.0.1:${busyPort} is already in use`,
    }),
  ],
  [
    "a Vault CA file that does not exist",
    ({ dir }) => ({
      env: vaultEnv({ VAULT_TOKEN: "unused", VAULT_CACERT: join(dir, "missing/vault-ca.pem") }),
      line: `VAULT_CACERT: cannot open ${join(dir, "missing/vault-ca.pem")} (ENOENT: no such file or directory)`,
    }),
  ],
  [
    "a Kubernetes service-account token file that does not exist",
    ({ dir }) => ({
      env: vaultEnv({ VAULT_K8S_ROLE: "totp-core", VAULT_K8S_JWT_FILE: join(dir, "missing/token") }),
      line: `VAULT_K8S_JWT_FILE: cannot open ${join(dir, "missing/token")} (ENOENT: no such file or directory)`,
    }),
  ],
  [
    // The path that was there before: the start steps' failures must read the same.
    "a bad value in the environment",
    () => ({ env: { TOTP_LISTEN: "8443" }, line: "TOTP_LISTEN: expected host:port, for example 0.0.0.0:8443" }),
  ],
];

/** A Vault store that is never reached: each of these starts stops before its first request. */
function vaultEnv(auth: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { TOTP_STORE: "vault-kv", VAULT_ADDR: "http://127.0.0.1:1", ...auth };
}

describe("totp-core refuses to start with a file or address it cannot use", () => {
  let fx: Fixture;
  let busy: Server;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), "totp-start-errors-"));
    await writeFile(join(dir, "policy.yaml"), "clients: {}\n");
    await writeFile(join(dir, "broken.yaml"), "clients: [\n");
    const seedFile = join(dir, "seeds-other-key.enc");
    await (await FileStore.open(seedFile, randomBytes(32))).close();
    busy = createServer().listen(0, "127.0.0.1");
    await once(busy, "listening");
    fx = { dir, pki: await makeTestPki(["client"]), busyPort: (busy.address() as AddressInfo).port, seedFile };
  });
  afterAll(async () => {
    busy?.close();
    await fx?.pki.cleanup();
    if (fx) await rm(fx.dir, { recursive: true, force: true });
  });

  it.concurrent.for(CASES)("%s", async ([, make], { expect }) => {
    const { env, line } = make(fx);
    const core = runProcess("node", [TOTP_CORE_MAIN], {
      env: {
        // Everything else valid, so that the start gets as far as the step under test.
        TOTP_LISTEN: "127.0.0.1:0",
        TOTP_TLS_CERT: fx.pki.server.certPath,
        TOTP_TLS_KEY: fx.pki.server.keyPath,
        TOTP_TLS_CA: fx.pki.caPath,
        TOTP_POLICY_FILE: join(fx.dir, "policy.yaml"),
        TOTP_STORE: "file",
        TOTP_FILE_PATH: join(fx.dir, `seeds-${randomBytes(6).toString("hex")}.enc`),
        TOTP_FILE_KEY: randomBytes(32).toString("hex"),
        ...env,
      },
      cwd: fx.dir,
    });
    try {
      await core.waitForOutput(/configuration error/);
      expect(await core.exited).toEqual({ code: 2, signal: null });
    } finally {
      await core.stop();
    }
    const lines = core.stderr.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    const prefix = "totp-core: configuration error: ";
    expect(lines[0]?.startsWith(prefix)).toBe(true);
    const reported = lines[0]?.slice(prefix.length);
    if (typeof line === "string") expect(reported).toBe(line);
    else expect(reported).toMatch(line);
    // No stack trace on either stream, and nothing but JSON log lines on stdout.
    expect(`${core.stdout}\n${core.stderr}`).not.toMatch(/^\s+at /m);
    for (const out of core.stdout.split("\n").filter((l) => l !== "")) expect(() => JSON.parse(out)).not.toThrow();
  });
});
