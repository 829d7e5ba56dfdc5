import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./freePort.js";
import type { TestPki } from "./makeTestPki.js";
import { type ExitStatus, type ProcessHandle, runProcess } from "./runProcess.js";

/** The built entry point of totp-core; `npm test` builds it before the tests run. */
export const TOTP_CORE_MAIN = fileURLToPath(new URL("../../../services/totp-core/dist/main.js", import.meta.url));

export interface StartTotpCoreOptions {
  pki: TestPki;
  /** The policy file's YAML text. */
  policy: string;
  /** Extra environment (a Vault store, limits, ports); by default the encrypted file store in a temporary folder. */
  env?: NodeJS.ProcessEnv;
  /** Flags for node itself, e.g. `--cpu-prof`, which NODE_OPTIONS does not accept. */
  nodeArgs?: readonly string[];
  /** The entry point to run: another checkout's build, to compare; this checkout's TOTP_CORE_MAIN by default. */
  main?: string;
  /** Keep only this many characters of its output (see runProcess); all of it by default. */
  outputTail?: number;
}

/** What a client needs to reach the core: the fields of @totp-custody/client's options. */
export interface CoreClientOptions {
  address: string;
  ca: string;
  cert: string;
  key: string;
}

export interface RunningCore {
  /** 127.0.0.1:<port> of the mTLS gRPC port. */
  address: string;
  port: number;
  /** Its folder: the policy file, the file store, anything a test adds. */
  dir: string;
  policyFile: string;
  /** The environment it was started with (to start it again the same way). */
  env: NodeJS.ProcessEnv;
  process: ProcessHandle;
  /** Client options with the certificate of `pki.clients[name]`. */
  clientOptions(name: string): CoreClientOptions;
  /** SIGTERM, wait for the exit, remove its folder. */
  stop(): Promise<ExitStatus>;
}

/** Starts totp-core as its own process on a free loopback port and waits until it says it is ready. */
export async function startTotpCore(options: StartTotpCoreOptions): Promise<RunningCore> {
  const dir = await mkdtemp(join(tmpdir(), "totp-core-"));
  const policyFile = join(dir, "policy.yaml");
  await writeFile(policyFile, options.policy);
  const env: NodeJS.ProcessEnv = {
    TOTP_LISTEN: `127.0.0.1:${await freePort()}`,
    TOTP_TLS_CERT: options.pki.server.certPath,
    TOTP_TLS_KEY: options.pki.server.keyPath,
    TOTP_TLS_CA: options.pki.caPath,
    TOTP_POLICY_FILE: policyFile,
    TOTP_STORE: "file",
    TOTP_FILE_PATH: join(dir, "seeds.enc"),
    TOTP_FILE_KEY: randomBytes(32).toString("hex"),
    ...options.env,
  };
  const process = runProcess("node", [...(options.nodeArgs ?? []), options.main ?? TOTP_CORE_MAIN], {
    env,
    cwd: dir,
    outputTail: options.outputTail,
  });
  try {
    await process.waitForOutput(/totp-core ready/, 30_000);
  } catch (err) {
    await process.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  // A test may choose the port itself (TOTP_LISTEN in options.env): the address follows what the core was given.
  const port = Number(env.TOTP_LISTEN?.split(":").pop());
  const address = `127.0.0.1:${port}`;
  return {
    address,
    port,
    dir,
    policyFile,
    env,
    process,
    clientOptions: (name) => {
      const cert = options.pki.clients[name];
      if (!cert) throw new Error(`startTotpCore: the test PKI has no client certificate named ${name}`);
      return { address, ca: options.pki.ca.certPem, cert: cert.certPem, key: cert.keyPem };
    },
    async stop() {
      const status = await process.stop();
      await rm(dir, { recursive: true, force: true });
      return status;
    },
  };
}
