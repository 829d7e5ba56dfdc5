import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { eventually, freePort, makeTestPki, runProcess, type TestPki, toolPath } from "@totp-custody/testkit";
import { service as healthService, type ServingStatus } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const SERVICES = ["totp-core", "telegram-bot", "zulip-bot"] as const;
// A tag of the test's own, so that a rebuild here never moves the tag another test or a user works with.
const TAG = `images-test-${process.pid}`;
const imageOf = (service: string) => `localhost/totp-custody/${service}:${TAG}`;
/** How the chart's restricted Pod Security runs the containers, in podman's words. */
const RESTRICTED = ["--read-only", "--cap-drop=ALL", "--user", "10001", "--security-opt", "no-new-privileges"];

const podman = toolPath("podman");
const exec = promisify(execFile);
const podmanOut = async (args: string[]) => (await exec(podman, args, { maxBuffer: 64 << 20 })).stdout;

/** What `podman run --rm <args>` did: its exit code and output, without throwing on a non-zero exit. */
async function runContainer(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = runProcess(podman, ["run", "--rm", ...args]);
  const { code } = await run.exited;
  return { code: code ?? -1, stdout: run.stdout, stderr: run.stderr };
}

const HealthClient = makeGenericClientConstructor(healthService, "Health");
type HealthCheck = (
  request: { service: string },
  options: { deadline: Date },
  callback: (err: ServiceError | null, reply?: { status: ServingStatus }) => void,
) => void;

/** One grpc.health.v1 Check over plaintext, as the kubelet's gRPC probe makes it. */
async function probe(address: string, service: string): Promise<ServingStatus | ServiceError> {
  const client = new HealthClient(address, credentials.createInsecure());
  try {
    const check = (client.Check as HealthCheck).bind(client);
    return await new Promise((resolve) =>
      check({ service }, { deadline: new Date(Date.now() + 3000) }, (err, reply) =>
        resolve(err ?? reply?.status ?? "UNKNOWN"),
      ),
    );
  } finally {
    client.close();
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The names of the packages installed under a node_modules folder, scoped ones as @scope/name. */
async function installedPackages(nodeModules: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(nodeModules)) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) {
      for (const scoped of await readdir(join(nodeModules, entry))) names.push(`${entry}/${scoped}`);
    } else names.push(entry);
  }
  return names;
}

beforeAll(async () => {
  // `npm run images` with a tag: the same script, Dockerfile and bases a user gets.
  const build = runProcess(process.execPath, [join(root, "scripts", "images.mjs"), "--tag", TAG], { cwd: root });
  const { code } = await build.exited;
  if (code !== 0) throw new Error(`npm run images exited with ${code}: ${build.stderr.slice(-3000)}`);
}, 1_800_000);

afterAll(async () => {
  for (const service of SERVICES) await exec(podman, ["rmi", imageOf(service)]).catch(() => {});
});

describe.each(SERVICES)("the %s image", (service) => {
  const image = imageOf(service);

  it("runs node as uid 10001 by default, with no environment of its own", async () => {
    const [config] = JSON.parse(await podmanOut(["image", "inspect", image])) as {
      Config: { User: string; Entrypoint: string[]; Cmd: string[]; Env?: string[] };
    }[];
    expect(config?.Config.User).toBe("10001:10001");
    expect(config?.Config.Entrypoint).toEqual(["/nodejs/bin/node"]);
    expect(config?.Config.Cmd).toEqual([`services/${service}/dist/main.js`]);
    expect((config?.Config.Env ?? []).map((entry) => entry.split("=")[0]).filter((name) => name !== "PATH")).toEqual(
      [],
    );
    // Without --user: what the image itself sets.
    const run = await runContainer([
      "--read-only",
      image,
      "-e",
      "process.stdout.write(process.getuid() + ':' + process.getgid())",
    ]);
    expect(run).toMatchObject({ code: 0, stdout: "10001:10001" });
  });

  it("holds no shell, no package manager, no dev dependency and nothing of the build's CA", async () => {
    const history = await podmanOut(["history", "--no-trunc", "--format", "{{.CreatedBy}}", image]);
    expect(history).not.toMatch(/NODE_EXTRA_CA_CERTS|host-ca/);
    const lock = JSON.parse(await readFile(join(root, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const rootfs = (await podmanOut(["image", "mount", image])).trim();
    try {
      const binDirs = ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin"];
      const programs = (await Promise.all(binDirs.map((dir) => readdir(join(rootfs, dir)).catch(() => [])))).flat();
      expect(programs.filter((name) => /^(sh|bash|dash|ash|busybox|dpkg|apt|apt-get|npm|npx)$/.test(name))).toEqual([]);
      const installed = await installedPackages(join(rootfs, "app/node_modules"));
      expect(installed.length).toBeGreaterThan(0);
      expect(installed.filter((name) => lock.packages[`node_modules/${name}`]?.dev === true)).toEqual([]);
      for (const devOnly of ["typescript", "vitest", "@biomejs/biome"]) expect(installed).not.toContain(devOnly);
      expect(await exists(join(rootfs, "app", "services", service, "dist", "main.js"))).toBe(true);
      expect(await exists(join(rootfs, "app", "services", service, "src"))).toBe(false);
      expect(await exists(join(rootfs, "run/host-ca.crt"))).toBe(false);
    } finally {
      await exec(podman, ["image", "unmount", image]);
    }
  });
});

describe("totp-core in its image, run the restricted way", () => {
  let pki: TestPki;
  let dir: string;

  beforeAll(async () => {
    pki = await makeTestPki();
    dir = await mkdtemp(join(tmpdir(), "totp-images-"));
    // What a Deployment mounts read-only: the certificates, the policy, the file store's key (as a file, like every
    // secret). Readable by uid 10001, as fsGroup makes them in a pod.
    const mounted = join(dir, "etc");
    await mkdir(mounted, { mode: 0o755 });
    await copyFile(pki.server.certPath, join(mounted, "tls.crt"));
    await copyFile(pki.server.keyPath, join(mounted, "tls.key"));
    await copyFile(pki.caPath, join(mounted, "ca.crt"));
    await writeFile(
      join(mounted, "policy.yaml"),
      "clients:\n  spiffe://totp.internal/client: { principal: service:ci }\n",
    );
    await writeFile(join(mounted, "file-key"), randomBytes(32).toString("hex"));
    for (const file of await readdir(mounted)) await chmod(join(mounted, file), 0o644);
  });

  afterAll(async () => {
    await pki?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("answers grpc.health.v1 on its plaintext health port, and stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const name = `totp-images-test-${process.pid}`;
    const core = runProcess(podman, [
      "run",
      "--rm",
      "--name",
      name,
      ...RESTRICTED,
      "--publish",
      `127.0.0.1:${port}:8081`,
      "--volume",
      `${join(dir, "etc")}:/etc/totp:ro`,
      ...["TOTP_TLS_CERT=/etc/totp/tls.crt", "TOTP_TLS_KEY=/etc/totp/tls.key", "TOTP_TLS_CA=/etc/totp/ca.crt"].flatMap(
        (env) => ["--env", env],
      ),
      ...["TOTP_POLICY_FILE=/etc/totp/policy.yaml", "TOTP_STORE=file", "TOTP_FILE_KEY_FILE=/etc/totp/file-key"].flatMap(
        (env) => ["--env", env],
      ),
      // The only writable place of a read-only root: podman's tmpfs at /tmp, the chart's emptyDir.
      ...["TOTP_FILE_PATH=/tmp/seeds.enc", "TOTP_HEALTH_LISTEN=0.0.0.0:8081"].flatMap((env) => ["--env", env]),
      imageOf("totp-core"),
    ]);
    try {
      await core.waitForOutput(/"totp-core ready"/, 60_000);
      const address = `127.0.0.1:${port}`;
      await eventually(async () => (await probe(address, "")) === "SERVING", {
        what: `SERVING from ${address}`,
        timeoutMs: 60_000,
      });
      expect(await probe(address, "totp.v1.TotpService")).toBe("SERVING");
    } finally {
      await exec(podman, ["stop", "--time", "20", name]).catch(() => {});
    }
    expect((await core.exited).code).toBe(0);
  });

  it("gives the chart's helm test what it loads: grpc-js and the health service from NODE_PATH", async () => {
    const script = "require('@grpc/grpc-js'); require('grpc-health-check').service; console.log('loaded')";
    const run = await runContainer([
      ...RESTRICTED,
      "--env",
      "NODE_PATH=/app/node_modules",
      imageOf("totp-core"),
      "--eval",
      script,
    ]);
    expect(run).toMatchObject({ code: 0, stdout: "loaded\n" });
  });
});

// The variable each bot's configuration checks first: the Telegram bot's token; the Zulip bot's realm (then its
// email and API key).
describe.each([
  ["telegram-bot", "TELEGRAM_BOT_TOKEN"],
  ["zulip-bot", "ZULIP_REALM"],
])("the %s image, started without credentials", (bot, variable) => {
  it(`exits non-zero with one line that names ${variable}`, async () => {
    const run = await runContainer([...RESTRICTED, imageOf(bot)]);
    expect(run.code).not.toBe(0);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${bot}: configuration error: ${variable}: required\\b`));
  });
});
