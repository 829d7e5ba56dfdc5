#!/usr/bin/env node
// Builds the three service images from the root Dockerfile with podman, tagged as the chart names them:
// localhost/totp-custody/<service>:<tag>, the tag being the root package.json's version unless --tag says otherwise.
//
// By default the build runs on the local bases that setup-tools builds from Debian packages (it is run first, and
// is quick once they are cached); --upstream-bases keeps the Dockerfile's own defaults, the pinned upstream Node 20
// images, for a machine that can pull them. When the host has a CA bundle it is mounted into the build stages and
// handed to npm through NODE_EXTRA_CA_CERTS, so that a TLS-intercepting proxy's CA is trusted there; on other
// machines that adds nothing, and in no case does it reach a final image.
//
// Usage: node scripts/images.mjs [--tag <tag>] [--upstream-bases] [--only totp-core,telegram-bot,zulip-bot]

import { spawn } from "node:child_process";
import { access, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BUILD_BASE_IMAGE, RUNTIME_BASE_IMAGE } from "./setup-images.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SERVICES = ["totp-core", "telegram-bot", "zulip-bot"];
const HOST_CA = "/etc/ssl/certs/ca-certificates.crt";
const BUILD_CA = "/run/host-ca.crt";

function run(command, args, { capture = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"] });
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolvePromise(output);
      else reject(new Error(`${command} ${args[0]} exited with ${code}`));
    });
  });
}

const exists = (path) =>
  access(path).then(
    () => true,
    () => false,
  );

async function main() {
  const { values } = parseArgs({
    options: {
      tag: { type: "string" },
      "upstream-bases": { type: "boolean", default: false },
      only: { type: "string" },
    },
  });
  const services = values.only ? values.only.split(",").filter(Boolean) : SERVICES;
  const unknown = services.filter((service) => !SERVICES.includes(service));
  if (unknown.length > 0 || services.length === 0) {
    console.error(`images: --only takes a comma-separated list of: ${SERVICES.join(", ")}`);
    process.exit(2);
  }
  const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8"));
  const tag = values.tag ?? version;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) {
    console.error("images: --tag must be a valid image tag (letters, digits, _ . -, at most 128)");
    process.exit(2);
  }

  const buildArgs = [];
  if (!values["upstream-bases"]) {
    await run(process.execPath, [join(repoRoot, "scripts", "setup-tools.mjs"), "--only", "podman"]);
    buildArgs.push(
      "--build-arg",
      `BUILD_BASE=${BUILD_BASE_IMAGE}`,
      "--build-arg",
      `RUNTIME_BASE=${RUNTIME_BASE_IMAGE}`,
    );
  }
  if (await exists(HOST_CA)) {
    buildArgs.push("-v", `${HOST_CA}:${BUILD_CA}:ro`, "--build-arg", `NODE_EXTRA_CA_CERTS=${BUILD_CA}`);
  }
  // The project's podman (with the machine's fixes) once setup-tools has linked it; any podman otherwise.
  const projectPodman = join(repoRoot, ".tools", "bin", "podman");
  const podman = (await exists(projectPodman)) ? projectPodman : "podman";

  for (const service of services) {
    const image = `localhost/totp-custody/${service}:${tag}`;
    const started = Date.now();
    await run(podman, ["build", "--target", service, "--tag", image, ...buildArgs, repoRoot]);
    const size = Number(await run(podman, ["image", "inspect", "--format", "{{.Size}}", image], { capture: true }));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`images: built ${image} in ${seconds}s, ${(size / 1e6).toFixed(1)} MB`);
  }
}

main().catch((error) => {
  console.error(`images: ${error.message}`);
  process.exit(1);
});
