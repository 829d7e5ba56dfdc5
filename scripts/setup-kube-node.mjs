// The tools of a one-node Kubernetes whose pods really run (testkit startKubeCluster): the control plane and node
// binaries built from tools/kube-apiserver's module, CoreDNS, Kubernetes' own pause binary, and the container
// runtime from Debian. scripts/setup-tools.mjs installs them like its other tools (per-user cache, lock, marker);
// this module only describes them, so the cluster's part of setup lives in one place.

import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";

export const KUBERNETES_VERSION = "v1.31.4";
const COREDNS_VERSION = "v1.11.3";

/**
 * What kubernetes' own build stamps in (hack/lib/version.sh): without it the binaries report v0.0.0-master, which
 * clients that check the cluster version (helm's kubeVersion) refuse, and a kubelet of "another version" than the
 * API server is a skew warning.
 */
export const kubeVersionLdflags = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) => [
  `-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`,
  `-X ${pkg}.gitMajor=1`,
  `-X ${pkg}.gitMinor=31`,
  `-X ${pkg}.gitTreeState=clean`,
]);

const HOW_TO_GET_NODE_PACKAGES =
  "install the container runtime (Debian, as root: apt-get install containerd runc containernetworking-plugins " +
  "iptables conntrack socat)";
const HOW_TO_GET_GCC = "install gcc with a static C library (Debian: apt-get install gcc libc6-dev)";

/**
 * `helpers` are setup-tools' own building blocks (goBuildModule, goInstall, findGo, run, SetupError), passed in
 * rather than copied.
 */
export function kubeNodeTools({ repoRoot, goBuildModule, goInstall, findGo, run, SetupError }) {
  const moduleDir = join(repoRoot, "tools", "kube-apiserver");
  const fromModule = (name) => ({
    names: [name],
    version: KUBERNETES_VERSION,
    lane: "go",
    install: (dir, log) => goBuildModule(dir, moduleDir, `k8s.io/kubernetes/cmd/${name}`, log, kubeVersionLdflags),
    binary: async (dir) => join(dir, name),
    verify: name === "kubectl" ? ["version", "--client"] : ["--version"],
    // Any 1.x on PATH does for a one-node test cluster, as long as it is the same minor as the rest of it; the
    // cluster starts only binaries from .tools/bin, so a mix is what PATH could cause.
    accepts: (versionOutput) => versionOutput.includes("v1.31."),
  });

  // Debian's packages install system-wide (no per-user cache); setup-tools runs apt-get for them as root.
  const fromApt = (name, aptPackage, verify) => ({
    names: [name],
    version: "debian",
    lane: "apt",
    aptPackage,
    howToGet: HOW_TO_GET_NODE_PACKAGES,
    verify,
  });

  return [
    ...["kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"].map(fromModule),
    {
      names: ["coredns"],
      version: COREDNS_VERSION,
      lane: "go",
      install: (dir, log) => goInstall(dir, `github.com/coredns/coredns@${COREDNS_VERSION}`, log),
      binary: async (dir) => join(dir, "coredns"),
      verify: ["-version"],
      accepts: (versionOutput) => versionOutput.includes("CoreDNS-1."),
    },
    {
      // The process every pod sandbox holds open: Kubernetes' own pause.c, from the same module the binaries are
      // built from, so no registry's pause image is needed. Static: it runs alone in a FROM-scratch image.
      names: ["pause"],
      version: KUBERNETES_VERSION,
      lane: "go",
      install: async (dir, log) => {
        // Resolved in a copy of the module, against its committed go.sum, as goBuildModule does.
        const src = join(dir, "src");
        await mkdir(src, { recursive: true });
        for (const file of ["go.mod", "go.sum"]) await copyFile(join(moduleDir, file), join(src, file));
        const listing = await run(await findGo(), ["mod", "download", "-json", "k8s.io/kubernetes"], {
          cwd: src,
          env: { GOWORK: "off", GOFLAGS: "-mod=readonly" },
          capture: true,
          log,
        });
        const source = join(JSON.parse(listing).Dir, "build", "pause", "linux", "pause.c");
        try {
          await run(
            "gcc",
            ["-Os", "-static", "-Wall", `-DVERSION=${KUBERNETES_VERSION}`, "-o", join(dir, "pause"), source],
            { log },
          );
        } catch (error) {
          throw new SetupError(`gcc could not build pause (${error.message})`, HOW_TO_GET_GCC);
        }
      },
      binary: async (dir) => join(dir, "pause"),
      verify: ["-v"],
    },
    // The CNI plugins come with containerd's install: they are not on PATH (Debian puts them in /usr/lib/cni,
    // where the cluster's containerd looks for them), so no tool of their own could find them.
    {
      ...fromApt("containerd", ["containerd", "containernetworking-plugins"], ["--version"]),
      accepts: (versionOutput) => /containerd \S+ v?1\.([6-9]|\d{2,})\./.test(versionOutput),
    },
    fromApt("ctr", "containerd", ["--version"]),
    fromApt("runc", "runc", ["--version"]),
    fromApt("iptables", "iptables", ["--version"]),
    fromApt("conntrack", "conntrack", ["--version"]),
    fromApt("socat", "socat", ["-V"]),
  ];
}
