import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type KubeCluster, runCommand, toolPath } from "@totp-custody/testkit";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** A tag of this test's own, so that a build here never moves the tag a user or another test works with. */
export const CLUSTER_TEST_TAG = "cluster-test";

/**
 * Builds the images the release runs with the project's `npm run images` (podman, local bases), saves each as a
 * docker-archive and imports it into the cluster's containerd, where pods find it with imagePullPolicy Never; the
 * podman tags are removed after (the layers stay cached for the next build).
 */
export async function importReleaseImages(cluster: KubeCluster, dir: string, services: readonly string[]) {
  await runCommand(process.execPath, [
    join(REPO_ROOT, "scripts", "images.mjs"),
    ...["--tag", CLUSTER_TEST_TAG, "--only", services.join(",")],
  ]);
  const podman = toolPath("podman");
  const images = services.map((service) => `localhost/totp-custody/${service}:${CLUSTER_TEST_TAG}`);
  try {
    for (const [index, image] of images.entries()) {
      const archive = join(dir, `${services[index]}.tar`);
      await runCommand(podman, ["save", "--format", "docker-archive", "-o", archive, image]);
      await cluster.importImage(archive);
    }
  } finally {
    for (const image of images) await runCommand(podman, ["rmi", image]).catch(() => undefined);
  }
}
