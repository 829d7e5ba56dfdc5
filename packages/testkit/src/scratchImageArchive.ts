import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { runCommand } from "./runCommand.js";

export interface ScratchImageOptions {
  /** A static executable: the image holds nothing else. */
  binary: string;
  /** Where the archive is written. */
  archivePath: string;
  /** The image's name, e.g. localhost/coredns:v1.11.3 (pods name it with imagePullPolicy Never). */
  reference: string;
  /** Arguments after the binary (the image's CMD). */
  args?: string[];
  /** `uid:gid` the image runs as. */
  user: string;
}

/**
 * Writes a docker-archive (what `docker save` / `podman save --format docker-archive` make, and `ctr images import`
 * reads) of a FROM-scratch image with one layer: `binary` at the root, its ENTRYPOINT. No container engine is needed,
 * so the one-node cluster's own images (pause, CoreDNS) exist wherever its binaries do.
 */
export async function scratchImageArchive(options: ScratchImageOptions): Promise<void> {
  const stage = await mkdtemp(join(tmpdir(), "totp-image-"));
  try {
    const name = basename(options.binary);
    const rootfs = join(stage, "rootfs");
    await mkdir(rootfs);
    await copyFile(options.binary, join(rootfs, name));
    const layer = join(stage, "layer.tar");
    // Fixed owner and times: the same binary gives the same layer digest, so a re-import is a no-op.
    await runCommand("tar", [
      "--numeric-owner",
      "--owner=0",
      "--group=0",
      "--mtime=@0",
      "--mode=0755",
      "-C",
      rootfs,
      "-cf",
      layer,
      name,
    ]);
    const layerDigest = createHash("sha256")
      .update(await readFile(layer))
      .digest("hex");
    const config = JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: [`/${name}`], Cmd: options.args ?? [], User: options.user },
      rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
    });
    const configDigest = createHash("sha256").update(config).digest("hex");
    await writeFile(join(stage, `${configDigest}.json`), config);
    const manifest = [{ Config: `${configDigest}.json`, RepoTags: [options.reference], Layers: ["layer.tar"] }];
    await writeFile(join(stage, "manifest.json"), JSON.stringify(manifest));
    await runCommand("tar", [
      "-C",
      stage,
      "-cf",
      options.archivePath,
      "manifest.json",
      `${configDigest}.json`,
      "layer.tar",
    ]);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
