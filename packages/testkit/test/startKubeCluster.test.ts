import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  eventually,
  holdKubeClusterHost,
  type KubeCluster,
  restrictedContainerSecurity,
  restrictedPodSecurity,
  runCommand,
  SKIP_CLUSTER_TESTS,
  scratchImageArchive,
  startKubeCluster,
  toolPath,
} from "../src/index.js";

const SYSCTLS = [
  "vm/overcommit_memory",
  "kernel/panic",
  "kernel/panic_on_oops",
  "net/ipv4/conf/all/route_localnet",
  "net/ipv4/ip_forward",
];
// Where containerd, the CNI plugins and the controller-manager would leave folders on the host (/run/netns is
// shared with podman, whose builds may run meanwhile: the cluster's own namespaces there are cni-*).
const HOST_FOLDERS = ["/run/containerd", "/var/lib/cni", "/usr/libexec/kubernetes"];
const NAMESPACE = "web";
const IMAGE = "localhost/test-web:1";

async function hostFolders(): Promise<string[]> {
  const present: string[] = [];
  for (const folder of HOST_FOLDERS)
    if (
      await access(folder).then(
        () => true,
        () => false,
      )
    )
      present.push(folder);
  return present;
}

async function sysctls(): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const path of SYSCTLS) values[path] = (await readFile(join("/proc/sys", path), "utf8")).trim();
  return values;
}

/** The names of every iptables chain that starts with KUBE-, in every table. */
async function kubeChains(): Promise<string[]> {
  const chains: string[] = [];
  for (const table of ["filter", "nat", "mangle", "raw"]) {
    const saved = await runCommand("iptables-save", ["-t", table]);
    for (const line of saved.split("\n")) if (line.startsWith(":KUBE-")) chains.push(`${table} ${line.split(" ")[0]}`);
  }
  return chains;
}

/**
 * One GET on a connection of its own: a kept-alive one opened before kube-proxy had a Service's rules would go on
 * reaching whatever answered then.
 */
function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, timeout: 3000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve(`${response.statusCode} ${body.trim()}`));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`${url}: no answer within 3 s`)));
    request.on("error", reject);
  });
}

// CoreDNS doubles as the workload: a static binary in a FROM-scratch image whose health endpoint answers HTTP.
const corefile = ".:1053 {\n    whoami\n    health :8080\n}\n";

function workload() {
  const labels = { app: "web" };
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "web", namespace: NAMESPACE },
        data: { Corefile: corefile },
      },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: NAMESPACE },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPodSecurity(10001),
              containers: [
                {
                  name: "web",
                  image: IMAGE,
                  imagePullPolicy: "Never",
                  args: ["-conf", "/etc/web/Corefile"],
                  ports: [{ name: "http", containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: "/health", port: 8080 }, periodSeconds: 1 },
                  securityContext: restrictedContainerSecurity(),
                  resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                  volumeMounts: [{ name: "config", mountPath: "/etc/web", readOnly: true }],
                },
              ],
              volumes: [{ name: "config", configMap: { name: "web" } }],
            },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web", namespace: NAMESPACE },
        spec: { type: "NodePort", selector: labels, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
      },
    ],
  };
}

describe.skipIf(process.env[SKIP_CLUSTER_TESTS] === "1")("startKubeCluster (one node whose pods really run)", () => {
  let cluster: KubeCluster;
  let before: Record<string, string>;
  let chainsBefore: string[];
  let foldersBefore: string[];
  let imageDir: string;
  let releaseHost: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // The host as it was before this cluster, and after it, with no other cluster in between.
    releaseHost = await holdKubeClusterHost();
    before = await sysctls();
    chainsBefore = await kubeChains();
    foldersBefore = await hostFolders();
    imageDir = await mkdtemp(join(tmpdir(), "totp-web-image-"));
    cluster = await startKubeCluster();
  }, 600_000);

  afterAll(async () => {
    await cluster?.stop();
    await releaseHost?.();
    await rm(imageDir, { recursive: true, force: true });
  }, 300_000);

  it("runs a FROM-scratch Deployment under Pod Security restricted, reached by pod IP, ClusterIP and NodePort", async () => {
    const archive = join(imageDir, "web.tar");
    await scratchImageArchive({
      binary: toolPath("coredns"),
      archivePath: archive,
      reference: IMAGE,
      user: "10001:10001",
    });
    await cluster.importImage(archive);
    await cluster.kubectl(["create", "namespace", NAMESPACE]);
    await cluster.kubectl(["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted"]);
    const applied = await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(workload()));
    expect(applied).toContain("deployment.apps/web created");
    await cluster.kubectl(["-n", NAMESPACE, "rollout", "status", "deployment/web", "--timeout=180s"]);

    const pods = JSON.parse(await cluster.kubectl(["-n", NAMESPACE, "get", "pods", "-l", "app=web", "-o", "json"])) as {
      items: { status: { phase: string; podIP: string; conditions: { type: string; status: string }[] } }[];
    };
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0]?.status;
    expect(pod?.phase).toBe("Running");
    expect(pod?.conditions.find((condition) => condition.type === "Ready")?.status).toBe("True");
    expect(pod?.podIP).toMatch(/^10\.244\.0\.\d+$/);
    expect(await httpText(`http://${pod?.podIP}:8080/health`)).toBe("200 OK");

    const service = JSON.parse(await cluster.kubectl(["-n", NAMESPACE, "get", "service", "web", "-o", "json"])) as {
      spec: { clusterIP: string; ports: { nodePort: number }[] };
    };
    // kube-proxy programs a new Service's rules a moment after it exists: poll, never assert once. Until then a
    // ClusterIP is routed off the host, where a proxy on the way may answer (404): only the pod's answer ends it.
    const reached = async (url: string) => {
      const text = await httpText(url);
      if (text !== "200 OK") throw new Error(`${url} answered ${text}`);
      return text;
    };
    const viaClusterIp = await eventually(() => reached(`http://${service.spec.clusterIP}/health`), {
      what: `http://${service.spec.clusterIP}/health`,
      timeoutMs: 60_000,
    });
    expect(viaClusterIp).toBe("200 OK");
    const nodePort = service.spec.ports[0]?.nodePort;
    const viaNodePort = await eventually(() => reached(`http://127.0.0.1:${nodePort}/health`), {
      what: `NodePort ${nodePort} on 127.0.0.1`,
      timeoutMs: 60_000,
    });
    expect(viaNodePort).toBe("200 OK");
  });

  it("refuses a pod without a securityContext in the restricted namespace", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "careless", namespace: NAMESPACE },
      spec: { containers: [{ name: "web", image: IMAGE, imagePullPolicy: "Never" }] },
    };
    const refused = await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(pod)).catch((error: Error) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(String(refused)).toMatch(/violates PodSecurity "restricted:latest"/);
  });

  it("stops leaving no KUBE-* chain, mount, bridge or folder behind, and the sysctls as they were", async () => {
    await cluster.stop();
    expect(await kubeChains()).toEqual(chainsBefore);
    expect(await sysctls()).toEqual(before);
    expect(await hostFolders()).toEqual(foldersBefore);
    const mounts = await readFile("/proc/self/mountinfo", "utf8");
    expect(mounts).not.toContain("totp-cluster-");
    expect(mounts).not.toMatch(/\/run\/netns\/cni-/);
    const links = await runCommand("ip", ["-o", "link", "show"]);
    expect(links).not.toContain("totp-kube0");
  }, 300_000);
});
