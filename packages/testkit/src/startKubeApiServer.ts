import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Agent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeApiError } from "./KubeApiError.js";
import { type ProcessHandle, runProcess } from "./runProcess.js";
import { toolPath } from "./toolPath.js";
import { waitUntilReady } from "./waitUntilReady.js";
import { withFreePorts } from "./withFreePorts.js";

export interface ServiceAccountTokenOptions {
  /** Who the token is for; the API server's own audience (its issuer) when absent. */
  audiences?: string[];
  /** At least 600: the TokenRequest API refuses shorter tokens. */
  expirationSeconds?: number;
}

/** The `status` of a TokenReview: what the API server decided about a token. */
export interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[] };
  audiences?: string[];
  error?: string;
}

export interface KubeApiServer {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** The self-signed serving certificate and the CA that signed it (PEM): what a client trusts to reach `url`. */
  readonly caCertPem: string;
  /** A static token of a system:masters user, random per server. */
  readonly adminToken: string;
  /** Its temporary folder (etcd data, keys, serving certificate); removed by stop(). */
  readonly dir: string;
  /** A call of the API (`path` from the root, e.g. /api/v1/namespaces) as admin or `options.token`; throws KubeApiError. */
  request<T = unknown>(method: string, path: string, body?: unknown, options?: { token?: string }): Promise<T>;
  /** Creates a namespace; one that exists already is left as it is. */
  createNamespace(name: string): Promise<void>;
  /** Creates a ServiceAccount, and its namespace if needed (no controller would make the `default` one either). */
  createServiceAccount(namespace: string, name: string): Promise<{ uid: string }>;
  deleteServiceAccount(namespace: string, name: string): Promise<void>;
  /** A signed service-account JWT from the TokenRequest API, as the kubelet would project into a pod. */
  createToken(namespace: string, name: string, options?: ServiceAccountTokenOptions): Promise<string>;
  /**
   * A ClusterRoleBinding of `clusterRole` (e.g. system:auth-delegator) to a ServiceAccount; answers once the
   * authorizer applies it.
   */
  bindClusterRole(clusterRole: string, namespace: string, serviceAccount: string): Promise<void>;
  /** Asks the TokenReview API about `token`, as Vault's Kubernetes auth does. */
  reviewToken(token: string, audiences?: string[]): Promise<TokenReviewStatus>;
  /** Stops kube-apiserver and etcd and removes the folder; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartKubeApiServerOptions {
  /** `--name=value` flags added to the defaults; one of the same name replaces the default. */
  flags?: string[];
  /** Further static-token users beside the admin, e.g. the identities of a node's components. */
  tokens?: { token: string; user: string; groups: string[] }[];
}

interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  nonResourceURLs?: string[];
}

const ETCD_READY_TIMEOUT_MS = 30_000;
// About 10 s alone on two cores; more when other test files start servers at the same time.
const API_SERVER_READY_TIMEOUT_MS = 90_000;

/**
 * Starts a real kube-apiserver on a real etcd, both on free loopback ports in a temporary folder, and waits until
 * it is ready (RBAC's bootstrap roles included). No controllers run: nothing makes pods or default ServiceAccounts,
 * but authentication (signed service-account tokens, TokenReview) and RBAC are the real ones.
 */
export async function startKubeApiServer(options: StartKubeApiServerOptions = {}): Promise<KubeApiServer> {
  // Both looked up before anything starts, so a missing one fails at once with the command that provides it.
  const etcdBinary = toolPath("etcd");
  const apiServerBinary = toolPath("kube-apiserver");
  const dir = await mkdtemp(join(tmpdir(), "totp-kube-"));
  const adminToken = randomBytes(24).toString("hex");
  const started: ProcessHandle[] = [];
  let agent: Agent | undefined;
  let url = "";
  let caCertPem = "";
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    agent?.destroy();
    try {
      // The API server first: stopped after etcd, it would spend its grace period retrying etcd.
      for (const handle of started.reverse()) await handle.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  const request = async <T>(method: string, path: string, body?: unknown, options?: { token?: string }) => {
    if (!agent) throw new Error("the API server is not started");
    const answer = await httpsCall(new URL(path, url), agent, method, options?.token ?? adminToken, body);
    if (answer.status < 200 || answer.status >= 300) {
      const status = parseJson<{ reason?: string; message?: string }>(answer.text) ?? {};
      throw new KubeApiError(answer.status, status.reason ?? "", `${method} ${path}`, status.message ?? "");
    }
    return parseJson<T>(answer.text) as T;
  };

  try {
    // The service-account signing key exists only for this server: tokens it signs are worth nothing elsewhere.
    const keys = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    await writeFile(join(dir, "sa.key"), keys.privateKey, { mode: 0o600 });
    await writeFile(join(dir, "sa.pub"), keys.publicKey);
    const tokenLines = [
      `${adminToken},admin,admin,system:masters`,
      ...(options.tokens ?? []).map(({ token, user, groups }) => `${token},${user},${user},"${groups.join(",")}"`),
    ];
    await writeFile(join(dir, "tokens.csv"), `${tokenLines.join("\n")}\n`, { mode: 0o600 });

    const etcdUrl = await withFreePorts(2, async ([clientPort, peerPort]) => {
      const client = `http://127.0.0.1:${clientPort}`;
      const peer = `http://127.0.0.1:${peerPort}`;
      const handle = launch(started, etcdBinary, [
        "--name=test",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=test=${peer}`,
      ]);
      const what = `etcd (${etcdBinary}) at ${client}`;
      await waitUntilReady(handle, { what, timeoutMs: ETCD_READY_TIMEOUT_MS }, async () => {
        const response = await fetch(`${client}/health`, { signal: AbortSignal.timeout(2000) });
        const health = (await response.json().catch(() => ({}))) as { health?: string };
        return health.health === "true" || `health answered ${response.status}`;
      });
      return client;
    });

    await withFreePorts(1, async ([port]) => {
      url = `https://127.0.0.1:${port}`;
      const certPath = join(dir, "certs", "apiserver.crt");
      const handle = launch(
        started,
        apiServerBinary,
        withFlags(
          [
            `--etcd-servers=${etcdUrl}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${port}`,
            // No certificate given: it makes a self-signed one (with its CA) for 127.0.0.1 in this folder.
            `--cert-dir=${join(dir, "certs")}`,
            `--token-auth-file=${join(dir, "tokens.csv")}`,
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            `--service-account-key-file=${join(dir, "sa.pub")}`,
            `--service-account-signing-key-file=${join(dir, "sa.key")}`,
            "--service-cluster-ip-range=10.96.0.0/16",
            "--enable-admission-plugins=PodSecurity",
          ],
          options.flags ?? [],
        ),
      );
      const what = `kube-apiserver (${apiServerBinary}) at ${url}`;
      const secrets = [adminToken, ...(options.tokens ?? []).map(({ token }) => token)];
      const ready = { what, timeoutMs: API_SERVER_READY_TIMEOUT_MS, secrets };
      await waitUntilReady(handle, ready, async () => {
        if (!agent) {
          const pem = await readFile(certPath, "utf8").catch(() => "");
          if (!pem.includes("END CERTIFICATE")) return "no serving certificate yet";
          caCertPem = pem;
          agent = new Agent({ ca: caCertPem, keepAlive: true });
        }
        // /readyz waits for the post-start hooks, among them the one that creates RBAC's bootstrap roles.
        const answer = await httpsCall(new URL("/readyz", url), agent, "GET", adminToken);
        return answer.status === 200 || `readyz answered ${answer.status}`;
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }

  const createNamespace = async (name: string) => {
    try {
      await request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 409)) throw error;
    }
  };

  return {
    url,
    caCertPem,
    adminToken,
    dir,
    request,
    createNamespace,
    async createServiceAccount(namespace, name) {
      await createNamespace(namespace);
      const created = await request<{ metadata: { uid: string } }>(
        "POST",
        `/api/v1/namespaces/${namespace}/serviceaccounts`,
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } },
      );
      return { uid: created.metadata.uid };
    },
    async deleteServiceAccount(namespace, name) {
      await request("DELETE", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}`);
    },
    async createToken(namespace, name, options = {}) {
      const created = await request<{ status: { token: string } }>(
        "POST",
        `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
        {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { audiences: options.audiences, expirationSeconds: options.expirationSeconds },
        },
      );
      return created.status.token;
    },
    async bindClusterRole(clusterRole, namespace, serviceAccount) {
      await request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: `${namespace}-${serviceAccount}-${clusterRole.replaceAll(":", "-")}` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole },
        subjects: [{ kind: "ServiceAccount", namespace, name: serviceAccount }],
      });
      // RBAC's authorizer learns of new bindings through a watch, a moment after the POST answers. Callers go on to
      // use the grant at once, so wait until the authorizer allows what the role's first rule grants.
      const role = await request<{ rules?: PolicyRule[] }>(
        "GET",
        `/apis/rbac.authorization.k8s.io/v1/clusterroles/${clusterRole}`,
      );
      const rule = role.rules?.[0];
      if (!rule) return;
      const attributes = rule.nonResourceURLs?.length
        ? { nonResourceAttributes: { path: rule.nonResourceURLs[0], verb: rule.verbs[0] } }
        : { resourceAttributes: { verb: rule.verbs[0], group: rule.apiGroups?.[0], resource: rule.resources?.[0] } };
      const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
      const deadline = Date.now() + 10_000;
      for (;;) {
        const review = await request<{ status: { allowed?: boolean } }>(
          "POST",
          "/apis/authorization.k8s.io/v1/subjectaccessreviews",
          { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec: { user, ...attributes } },
        );
        if (review.status.allowed) return;
        if (Date.now() > deadline) throw new Error(`${clusterRole} bound to ${user}, but not in effect after 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async reviewToken(token, audiences) {
      const review = await request<{ status: TokenReviewStatus }>(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences } },
      );
      return review.status;
    },
    stop,
  };
}

/** `defaults` with each of `extra` added, or in place of the default flag of the same name. */
function withFlags(defaults: string[], extra: string[]): string[] {
  const name = (flag: string) => flag.split("=")[0];
  const replaced = new Set(extra.map(name));
  return [...defaults.filter((flag) => !replaced.has(name(flag))), ...extra];
}

function launch(started: ProcessHandle[], binary: string, args: string[]): ProcessHandle {
  // ETCD_* variables configure etcd as flags do; whoever runs the tests must not reconfigure this one.
  const env: NodeJS.ProcessEnv = {};
  for (const key of Object.keys(process.env)) if (key.startsWith("ETCD_")) env[key] = undefined;
  const handle = runProcess(binary, args, { env });
  started.push(handle);
  return handle;
}

/** node's fetch cannot be given a CA; node:https can. The token goes only into the header, never into errors. */
function httpsCall(
  url: URL,
  agent: Agent,
  method: string,
  token: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        agent,
        timeout: timeoutMs,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: "application/json",
          ...(payload === undefined ? {} : { "Content-Type": "application/json" }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

function parseJson<T>(text: string): T | undefined {
  try {
    return text ? (JSON.parse(text) as T) : undefined;
  } catch {
    return undefined;
  }
}
