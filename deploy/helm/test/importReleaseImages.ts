import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type KubeCluster, runCommand, toolPath } from "@totp-custody/testkit";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** A tag of this test's own: the images test removes the images it builds under the default tag. */
export const CLUSTER_TEST_TAG = "cluster-test";

/**
 * Builds the images the release runs with the project's `npm run images` (podman, local bases), saves each as a
 * docker-archive and imports it into the cluster's containerd, where pods find it with imagePullPolicy Never; the
 * podman copies are removed after.
 */
export async function importReleaseImages(cluster: KubeCluster, dir: string, services: readonly string[]) {
  await runCommand(process.execPath, [
    join(REPO_ROOT, "scripts", "images.mjs"),
    ...["--tag", CLUSTER_TEST_TAG, "--only", services.join(",")],
  ]);
  const podman = toolPath("podman");
  for (const service of services) {
    const image = `localhost/totp-custody/${service}:${CLUSTER_TEST_TAG}`;
    const archive = join(dir, `${service}.tar`);
    try {
      await runCommand(podman, ["save", "--format", "docker-archive", "-o", archive, image]);
      await cluster.importImage(archive);
    } finally {
      await runCommand(podman, ["rmi", image]).catch(() => undefined);
    }
  }
}
