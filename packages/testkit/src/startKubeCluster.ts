import { randomBytes } from "node:crypto";
import { access, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createCa, issueCertificate, writePem } from "@totp-custody/pki";
import { acquireHostLock } from "./acquireHostLock.js";
import { runCommand } from "./runCommand.js";
import { type ProcessHandle, runProcess } from "./runProcess.js";
import { scratchImageArchive } from "./scratchImageArchive.js";
import { type HostState, snapshotHostState } from "./snapshotHostState.js";
import { type KubeApiServer, startKubeApiServer } from "./startKubeApiServer.js";
import { toolPath } from "./toolPath.js";
import { waitUntilReady } from "./waitUntilReady.js";

export interface KubeCluster {
  /** An admin (system:masters) kubeconfig for kubectl and helm. */
  readonly kubeconfig: string;
  /** The API server (admin requests, service-account tokens, its CA): what Vault's Kubernetes auth is pointed at. */
  readonly api: KubeApiServer;
  /** The pod bridge's gateway, 10.244.0.1: where pods reach a server on the host (one listening there). */
  readonly gatewayAddress: string;
  /** The node's name (the host name). */
  readonly nodeName: string;
  /** Imports a docker-archive or OCI archive into the node's containerd, for pods with imagePullPolicy Never. */
  importImage(archivePath: string): Promise<void>;
  /** Runs kubectl with the admin kubeconfig; `input` goes to its stdin (`apply -f -`). Answers stdout. */
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /**
   * Deletes every pod (so that the kubelet tears their networks down), stops what it started, and puts the host
   * back as it was: iptables chains, mounts, cgroups, network namespaces, sysctls. Safe to call twice.
   */
  stop(): Promise<void>;
}

/** The variable that opts out of the tests needing a cluster (root, Linux); the README names it. */
export const SKIP_CLUSTER_TESTS = "TOTP_SKIP_CLUSTER_TESTS";

// Fixed, hence one cluster per machine (the host lock): the node's ports, the bridge and the address ranges.
const BRIDGE = "totp-kube0";
const GATEWAY = "10.244.0.1";
const POD_SUBNET = "10.244.0.0/24";
const SERVICE_RANGE = "10.96.0.0/16";
const CLUSTER_DNS = "10.96.0.10";
const CNI_NETWORK = "totp-kube";
const CNI_BIN_DIR = "/usr/lib/cni";
const CNI_CACHE_DIR = "/var/lib/cni/results";
const PAUSE_IMAGE = "localhost/pause:v1.31.4";
const COREDNS_IMAGE = "localhost/coredns:v1.11.3";
/**
 * The port CoreDNS listens on in its pod (behind the kube-dns Service's 53): non-root cannot bind 53. A
 * NetworkPolicy sees this port, not the Service's.
 */
export const KUBE_CLUSTER_DNS_PORT = 1053;
const LOCK_NAME = "totp-custody-kube-cluster";
// Another test file's cluster may hold the machine for its whole run.
const LOCK_WAIT_MS = 15 * 60_000;
const READY_TIMEOUT_MS = 180_000;

/**
 * Holds the machine's one-cluster lock until the answered function releases it; startKubeCluster inside it does not
 * wait for it. For a test that checks the host before and after a cluster: without it the next cluster (another test
 * file's) may start the moment this one stops, and change what is checked.
 */
export function holdKubeClusterHost(): Promise<() => Promise<void>> {
  return acquireHostLock(LOCK_NAME, LOCK_WAIT_MS);
}

/**
 * Starts a one-node Kubernetes whose pods really run, on this host: etcd and kube-apiserver (startKubeApiServer),
 * controller-manager, scheduler, containerd with runc and the CNI bridge, kubelet, kube-proxy in iptables mode
 * (NodePorts on 127.0.0.0/8) and CoreDNS behind the kube-dns Service. Answers once the node is Ready and CoreDNS
 * serves. Needs root on Linux; otherwise it throws saying so.
 */
export async function startKubeCluster(): Promise<KubeCluster> {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    throw new Error(
      `startKubeCluster needs root on Linux (it runs containerd, a kubelet and kube-proxy); ${SKIP_CLUSTER_TESTS}=1 opts out of the tests that need it`,
    );
  }
  const bin = Object.fromEntries(
    [
      "kube-controller-manager",
      "kube-scheduler",
      "kubelet",
      "kube-proxy",
      "kubectl",
      "containerd",
      "ctr",
      "runc",
      "coredns",
      "pause",
      "socat",
      "iptables",
      "conntrack",
    ].map((name) => [name, toolPath(name)]),
  );
  for (const plugin of ["bridge", "host-local", "portmap"]) {
    await access(join(CNI_BIN_DIR, plugin)).catch(() => {
      throw new Error(`${join(CNI_BIN_DIR, plugin)} is missing: run npm run setup-tools`);
    });
  }

  const release = await acquireHostLock(LOCK_NAME, LOCK_WAIT_MS);
  const dir = await mkdtemp(join(tmpdir(), "totp-cluster-"));
  const nodeName = hostname().toLowerCase();
  const started: { name: string; handle: ProcessHandle }[] = [];
  const secrets: string[] = [];
  let api: KubeApiServer | undefined;
  let host: HostState | undefined;
  let bridgeMade = false;
  let stopped = false;

  const socket = join(dir, "containerd", "containerd.sock");
  const kubeconfig = join(dir, "admin.kubeconfig");
  const ctr = (args: readonly string[]) => runCommand(bin.ctr as string, ["-a", socket, "-n", "k8s.io", ...args]);
  const kubectl = (args: readonly string[], input?: string) =>
    runCommand(bin.kubectl as string, ["--kubeconfig", kubeconfig, ...args], input);
  const launch = (name: string, args: string[]) => {
    const handle = runProcess(bin[name] as string, args);
    started.push({ name, handle });
    return handle;
  };
  const stopProcess = async (name: string) => {
    for (const entry of started.filter((process) => process.name === name)) await entry.handle.stop(10_000);
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const failures: unknown[] = [];
    const step = async (action: () => Promise<unknown>) => {
      await action().catch((error: unknown) => failures.push(error));
    };
    // Nothing may recreate the pods deleted below.
    await step(() => stopProcess("kube-controller-manager"));
    await step(() => stopProcess("kube-scheduler"));
    if (api && started.some((entry) => entry.name === "kubelet"))
      await step(() => deleteAllPods(api as KubeApiServer, ctr));
    await step(() => stopProcess("kubelet"));
    await step(() => stopProcess("kube-proxy"));
    // Containers the kubelet did not get to: their shims exit once their tasks are gone.
    if (started.some((entry) => entry.name === "containerd")) await step(() => removeAllTasks(ctr));
    await step(() => stopProcess("containerd"));
    await step(() => stopProcess("socat"));
    await step(async () => api?.stop());
    if (host) await step(async () => host?.restore());
    if (bridgeMade) await step(() => runCommand("ip", ["link", "delete", BRIDGE]));
    await step(async () => {
      for (const file of await readdir(CNI_CACHE_DIR).catch(() => [])) {
        if (file.startsWith(`${CNI_NETWORK}-`)) await rm(join(CNI_CACHE_DIR, file), { force: true });
      }
    });
    await step(() => rm(dir, { recursive: true, force: true }));
    await release();
    if (failures.length > 0) throw failures[0];
  };

  try {
    host = await snapshotHostState(dir);
    // A bridge of this name can only be a crashed run's (the lock is ours): start from a clean one.
    await runCommand("ip", ["link", "delete", BRIDGE]).catch(() => undefined);
    await runCommand("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    bridgeMade = true;
    await runCommand("ip", ["addr", "add", `${GATEWAY}/24`, "dev", BRIDGE]);
    await runCommand("ip", ["link", "set", BRIDGE, "up"]);
    // A pod reaching another through a Service's ClusterIP is routed by the host.
    await host.setSysctl("net/ipv4/ip_forward", "1");

    const pki = await makeNodePki(dir);
    const tokens = {
      kubelet: { token: randomToken(), user: `system:node:${nodeName}`, groups: ["system:nodes"] },
      proxy: { token: randomToken(), user: "system:kube-proxy", groups: [] },
      controllerManager: { token: randomToken(), user: "system:kube-controller-manager", groups: [] },
      scheduler: { token: randomToken(), user: "system:kube-scheduler", groups: [] },
    };
    secrets.push(...Object.values(tokens).map(({ token }) => token));
    api = await startKubeApiServer({
      tokens: Object.values(tokens),
      flags: [
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=PodSecurity,NodeRestriction",
        // The `kubernetes` Service's endpoint may not be a loopback address: pods reach the API server through
        // the bridge's gateway, forwarded to the loopback port by socat below.
        `--advertise-address=${GATEWAY}`,
        `--service-cluster-ip-range=${SERVICE_RANGE}`,
        `--kubelet-client-certificate=${pki.apiserverClient.certPath}`,
        `--kubelet-client-key=${pki.apiserverClient.keyPath}`,
        // The node's host name resolves to 127.0.0.1, where the kubelet serves: `kubectl logs` and `exec` work.
        "--kubelet-preferred-address-types=Hostname,InternalIP",
      ],
    });
    secrets.push(api.adminToken);
    const apiPort = new URL(api.url).port;
    const caPath = join(dir, "apiserver-ca.crt");
    await writeFile(caPath, api.caCertPem);
    await writeKubeconfig(kubeconfig, api.url, caPath, api.adminToken);
    launch("socat", [`TCP-LISTEN:${apiPort},bind=${GATEWAY},fork,reuseaddr`, `TCP:127.0.0.1:${apiPort}`]);
    // The API server calls the kubelet as this user (its client certificate); the kubelet asks the API server.
    await kubectl([
      "create",
      "clusterrolebinding",
      "totp-apiserver-kubelet",
      "--clusterrole=system:kubelet-api-admin",
      "--user=kube-apiserver-kubelet-client",
    ]);

    const containerdHandle = await startContainerd(dir, launch);
    const images = join(dir, "images");
    await mkdir(images);
    const pauseArchive = join(images, "pause.tar");
    await scratchImageArchive({
      binary: bin.pause as string,
      archivePath: pauseArchive,
      reference: PAUSE_IMAGE,
      user: "65535:65535",
    });
    await waitUntilReady(containerdHandle, { what: `containerd at ${socket}`, timeoutMs: 30_000 }, async () => {
      await ctr(["version"]);
      return true;
    });
    await ctr(["images", "import", pauseArchive]);

    const componentConfig = async (name: string, identity: { token: string }) => {
      const path = join(dir, `${name}.kubeconfig`);
      await writeKubeconfig(path, api?.url ?? "", caPath, identity.token);
      return path;
    };
    const controllerManagerConfig = await componentConfig("controller-manager", tokens.controllerManager);
    launch("kube-controller-manager", [
      `--kubeconfig=${controllerManagerConfig}`,
      `--authentication-kubeconfig=${controllerManagerConfig}`,
      `--authorization-kubeconfig=${controllerManagerConfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      "--secure-port=0",
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${join(api.dir, "sa.key")}`,
      `--root-ca-file=${caPath}`,
      `--service-cluster-ip-range=${SERVICE_RANGE}`,
      `--flex-volume-plugin-dir=${join(dir, "volume-plugins")}`,
    ]);
    const schedulerConfig = await componentConfig("scheduler", tokens.scheduler);
    launch("kube-scheduler", [
      `--kubeconfig=${schedulerConfig}`,
      `--authentication-kubeconfig=${schedulerConfig}`,
      `--authorization-kubeconfig=${schedulerConfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      "--secure-port=0",
    ]);

    const kubeletHandle = launch("kubelet", [
      `--config=${await writeKubeletConfig(dir, socket, pki.kubeletClientCaPath)}`,
      `--kubeconfig=${await componentConfig("kubelet", tokens.kubelet)}`,
      `--root-dir=${join(dir, "kubelet")}`,
      `--cert-dir=${join(dir, "kubelet-pki")}`,
      `--hostname-override=${nodeName}`,
      `--node-ip=${GATEWAY}`,
    ]);
    launch("kube-proxy", [
      `--config=${await writeKubeProxyConfig(dir, await componentConfig("kube-proxy", tokens.proxy), nodeName)}`,
    ]);

    await waitUntilReady(
      kubeletHandle,
      { what: `kubelet of node ${nodeName}`, timeoutMs: READY_TIMEOUT_MS, secrets },
      async () => {
        const node = await api
          ?.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
            "GET",
            `/api/v1/nodes/${nodeName}`,
          )
          .catch(() => undefined);
        const ready = node?.status?.conditions?.find((condition) => condition.type === "Ready");
        return ready?.status === "True" || `node Ready is ${ready?.status ?? "not reported yet"}`;
      },
    );

    const corednsArchive = join(images, "coredns.tar");
    await scratchImageArchive({
      binary: bin.coredns as string,
      archivePath: corednsArchive,
      reference: COREDNS_IMAGE,
      user: "10001:10001",
    });
    await ctr(["images", "import", corednsArchive]);
    await kubectl(["apply", "-f", "-"], JSON.stringify(corednsManifests()));
    await kubectl([
      "-n",
      "kube-system",
      "rollout",
      "status",
      "deployment/coredns",
      `--timeout=${READY_TIMEOUT_MS / 1000}s`,
    ]);
  } catch (error) {
    const detail = started
      .map(({ name, handle }) => `--- ${name}:\n${`${handle.stdout}\n${handle.stderr}`.trim().slice(-1500)}`)
      .join("\n");
    let message = `${(error as Error).message}\n${detail}`;
    for (const secret of secrets) message = message.replaceAll(secret, "<redacted>");
    await stop().catch(() => undefined);
    throw new Error(`startKubeCluster failed: ${message}`);
  }

  return {
    kubeconfig,
    api,
    gatewayAddress: GATEWAY,
    nodeName,
    importImage: async (archivePath) => {
      await ctr(["images", "import", archivePath]);
    },
    kubectl,
    stop,
  };
}

function randomToken(): string {
  return randomBytes(24).toString("hex");
}

/** The CA the kubelet trusts for client certificates, and the API server's certificate as the kubelet's client. */
async function makeNodePki(dir: string) {
  const pkiDir = join(dir, "pki");
  await mkdir(pkiDir);
  const ca = await createCa({ commonName: "totp-custody test kubelet client CA" });
  const kubeletClientCaPath = (await writePem(pkiDir, "kubelet-client-ca", ca)).certPath;
  const apiserverClient = await writePem(
    pkiDir,
    "apiserver-kubelet-client",
    await issueCertificate(ca, { commonName: "kube-apiserver-kubelet-client", serverAuth: false }),
  );
  return { kubeletClientCaPath, apiserverClient };
}

async function writeKubeconfig(path: string, server: string, caPath: string, token: string): Promise<void> {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server, "certificate-authority": caPath } }],
    users: [{ name: "test", user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user: "test" } }],
    "current-context": "test",
  };
  await writeFile(path, JSON.stringify(config), { mode: 0o600 });
}

async function startContainerd(
  dir: string,
  launch: (name: string, args: string[]) => ProcessHandle,
): Promise<ProcessHandle> {
  const base = join(dir, "containerd");
  const cniConfDir = join(dir, "cni");
  await mkdir(base, { recursive: true });
  await mkdir(cniConfDir);
  // One conflist: the bridge (pods cannot reach beyond the host: no masquerading) and portmap for hostPorts.
  const cni = {
    cniVersion: "0.4.0",
    name: CNI_NETWORK,
    plugins: [
      {
        type: "bridge",
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: POD_SUBNET, gateway: GATEWAY }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: join(dir, "cni-ipam"),
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  await writeFile(join(cniConfDir, "10-totp-kube.conflist"), JSON.stringify(cni));
  const config = `version = 2
root = "${join(base, "root")}"
state = "${join(base, "state")}"

[grpc]
  address = "${join(base, "containerd.sock")}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(base, "opt")}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # This host refuses to lower oom_score_adj (no CAP_SYS_RESOURCE): without this every sandbox fails to start.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${join(base, "runc")}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${cniConfDir}"
`;
  const configPath = join(base, "config.toml");
  await writeFile(configPath, config);
  return launch("containerd", ["--config", configPath]);
}

async function writeKubeletConfig(dir: string, socket: string, clientCaPath: string): Promise<string> {
  const config = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    containerRuntimeEndpoint: `unix://${socket}`,
    address: "127.0.0.1",
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: clientCaPath },
    },
    authorization: { mode: "Webhook" },
    cgroupDriver: "cgroupfs",
    failSwapOn: false,
    // oom_score_adj cannot be lowered on this kind of host; 0 keeps the kubelet from trying.
    oomScoreAdj: 0,
    clusterDNS: [CLUSTER_DNS],
    clusterDomain: "cluster.local",
    // A test machine's disk is often fuller than the defaults allow: evict only when nearly nothing is left.
    evictionHard: {
      "memory.available": "50Mi",
      "nodefs.available": "1%",
      "imagefs.available": "1%",
      "nodefs.inodesFree": "1%",
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    rotateCertificates: false,
    serializeImagePulls: false,
    volumePluginDir: join(dir, "volume-plugins"),
    podLogsDir: join(dir, "pod-logs"),
  };
  const path = join(dir, "kubelet-config.json");
  await writeFile(path, JSON.stringify(config));
  return path;
}

async function writeKubeProxyConfig(dir: string, kubeconfigPath: string, nodeName: string): Promise<string> {
  const config = {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: kubeconfigPath },
    mode: "iptables",
    clusterCIDR: POD_SUBNET,
    hostnameOverride: nodeName,
    bindAddress: "127.0.0.1",
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    // NodePorts only on loopback: a test cluster is reached from this host alone.
    nodePortAddresses: ["127.0.0.0/8"],
    // Zero leaves the host's conntrack settings alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  };
  const path = join(dir, "kube-proxy-config.json");
  await writeFile(path, JSON.stringify(config));
  return path;
}

/** CoreDNS on KUBE_CLUSTER_DNS_PORT as a non-root restricted pod, behind the kube-dns Service pods are given. */
function corednsManifests() {
  const labels = { "k8s-app": "kube-dns" };
  // Short TTL and cache: a Service reinstalled by a test gets a new ClusterIP, and pods must see it within seconds.
  const corefile = `.:${KUBE_CLUSTER_DNS_PORT} {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
`;
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "coredns", namespace: "kube-system" } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "totp-test:coredns" },
        rules: [
          { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
          { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
        ],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "totp-test:coredns" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "totp-test:coredns" },
        subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: "kube-system" }],
      },
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "coredns", namespace: "kube-system" },
        data: { Corefile: corefile },
      },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "coredns", namespace: "kube-system", labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: "coredns",
              // CoreDNS must not ask itself.
              dnsPolicy: "Default",
              securityContext: restrictedPodSecurity(10001),
              containers: [
                {
                  name: "coredns",
                  image: COREDNS_IMAGE,
                  imagePullPolicy: "Never",
                  args: ["-conf", "/etc/coredns/Corefile"],
                  ports: [
                    { name: "dns", containerPort: KUBE_CLUSTER_DNS_PORT, protocol: "UDP" },
                    { name: "dns-tcp", containerPort: KUBE_CLUSTER_DNS_PORT, protocol: "TCP" },
                  ],
                  readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
                  livenessProbe: { httpGet: { path: "/health", port: 8080 } },
                  securityContext: restrictedContainerSecurity(),
                  resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                  volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
                },
              ],
              volumes: [{ name: "config", configMap: { name: "coredns" } }],
            },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "kube-dns", namespace: "kube-system", labels },
        spec: {
          clusterIP: CLUSTER_DNS,
          selector: labels,
          ports: [
            { name: "dns", port: 53, targetPort: KUBE_CLUSTER_DNS_PORT, protocol: "UDP" },
            { name: "dns-tcp", port: 53, targetPort: KUBE_CLUSTER_DNS_PORT, protocol: "TCP" },
          ],
        },
      },
    ],
  };
}

/** What Pod Security "restricted" asks of a pod, for a given non-root uid. */
export function restrictedPodSecurity(uid: number) {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, seccompProfile: { type: "RuntimeDefault" } };
}

/** What Pod Security "restricted" asks of each container. */
export function restrictedContainerSecurity() {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } };
}

/** Force-deletes every pod and waits until the kubelet has stopped them all (their sandboxes' networks torn down). */
async function deleteAllPods(api: KubeApiServer, ctr: (args: readonly string[]) => Promise<string>): Promise<void> {
  const namespaces = await api.request<{ items: { metadata: { name: string } }[] }>("GET", "/api/v1/namespaces");
  for (const namespace of namespaces.items) {
    await api.request("DELETE", `/api/v1/namespaces/${namespace.metadata.name}/pods?gracePeriodSeconds=0`);
  }
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const tasks = await ctr(["tasks", "ls", "-q"]).catch(() => "");
    if (tasks.trim() === "") return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function removeAllTasks(ctr: (args: readonly string[]) => Promise<string>): Promise<void> {
  const tasks = (await ctr(["tasks", "ls", "-q"])).split("\n").filter(Boolean);
  for (const task of tasks) {
    await ctr(["tasks", "kill", "-a", "-s", "SIGKILL", task]).catch(() => undefined);
    await ctr(["tasks", "delete", "-f", task]).catch(() => undefined);
  }
}
