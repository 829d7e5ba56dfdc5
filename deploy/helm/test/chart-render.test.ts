import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { KUBE_CLUSTER_DNS_PORT } from "@totp-custody/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../../services/totp-core/src/config.js";
import { parsePolicy } from "../../../services/totp-core/src/policy/parsePolicy.js";
import { clusterValues } from "./clusterValues.js";
import {
  helm,
  type Manifest,
  NAMESPACE,
  parseManifests,
  RELEASE,
  renderChart,
  templateArgs,
  VALUE_SETS,
  type ValueSet,
  valuesFile,
} from "./renderChart.js";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects as rendered, whatever their kind.
type Obj = any;

const CHART_VALUES = parse(readFileSync(new URL("../totp-custody/values.yaml", import.meta.url), "utf8"));
const APP_VERSION = parse(readFileSync(new URL("../totp-custody/Chart.yaml", import.meta.url), "utf8")).appVersion;
const name = (component: string) => `${RELEASE}-${component}`;

/**
 * The chart's defaults with a value set's files laid over them, as helm merges them: maps deep (so an empty map
 * keeps the defaults' keys), lists replaced, null deleting the key.
 */
function effectiveValues(files: readonly string[]): Obj {
  const merge = (base: Obj, over: Obj): Obj => {
    if (
      typeof base !== "object" ||
      base === null ||
      Array.isArray(base) ||
      typeof over !== "object" ||
      over === null ||
      Array.isArray(over)
    ) {
      return over;
    }
    const out = { ...base };
    for (const [key, value] of Object.entries(over)) {
      if (value === null) delete out[key];
      else out[key] = key in base ? merge(base[key], value) : value;
    }
    return out;
  };
  return files.reduce((values, file) => merge(values, parse(readFileSync(valuesFile(file), "utf8"))), CHART_VALUES);
}

interface PodOf {
  owner: string;
  labels: Record<string, string>;
  spec: Obj;
}

/** Every pod the chart can start: Deployment templates and the helm test hook Pod. */
function pods(manifests: Manifest[]): PodOf[] {
  return manifests.flatMap((m) => {
    if (m.kind === "Deployment") {
      return [
        { owner: `Deployment/${m.metadata.name}`, labels: m.spec.template.metadata.labels, spec: m.spec.template.spec },
      ];
    }
    if (m.kind === "Pod") return [{ owner: `Pod/${m.metadata.name}`, labels: m.metadata.labels ?? {}, spec: m.spec }];
    return [];
  });
}

const containersOf = (spec: Obj): Obj[] => [...(spec.initContainers ?? []), ...(spec.containers ?? [])];

/**
 * Pod Security "restricted" as the chart applies it to each of its pods: non-root with a uid and gid >= 10000,
 * seccomp RuntimeDefault, no host namespaces, every container with a read-only root (and an emptyDir for /tmp),
 * no privilege escalation and no capability.
 */
function expectRestricted({ owner, spec }: Pick<PodOf, "owner" | "spec">): void {
  const pod = spec.securityContext;
  expect(pod, owner).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
  for (const id of ["runAsUser", "runAsGroup", "fsGroup"])
    expect(pod[id], `${owner} ${id}`).toBeGreaterThanOrEqual(10000);
  expect(spec.hostNetwork ?? false).toBe(false);
  expect(spec.hostPID ?? false).toBe(false);
  for (const container of containersOf(spec)) {
    const where = `${owner} ${container.name}`;
    const sc = container.securityContext;
    expect(sc, where).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(sc.privileged ?? false, where).toBe(false);
    expect(sc.capabilities.add ?? [], where).toEqual([]);
    expect(sc.runAsUser, where).toBeGreaterThanOrEqual(10000);
    // The root filesystem is read-only: /tmp is an emptyDir.
    const tmp = container.volumeMounts.find((m: Obj) => m.mountPath === "/tmp");
    expect(tmp, `${where} /tmp`).toBeDefined();
    expect(spec.volumes.find((v: Obj) => v.name === tmp.name).emptyDir, where).toBeDefined();
  }
}

function find(manifests: Manifest[], kind: string, objectName: string): Obj {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === objectName);
  if (!found)
    throw new Error(
      `no ${kind} ${objectName} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(", ")}`,
    );
  return found;
}

const envOf = (container: Obj): Record<string, string> =>
  Object.fromEntries((container.env ?? []).map((e: Obj) => [e.name, e.value]));

const deploymentContainer = (manifests: Manifest[], component: string): Obj =>
  find(manifests, "Deployment", name(component)).spec.template.spec.containers[0];

/** The volume mounted at the longest mount path that holds `file`. */
function volumeHolding(spec: Obj, container: Obj, file: string): Obj | undefined {
  const mount = (container.volumeMounts as Obj[])
    .filter((m) => file.startsWith(`${m.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  return mount && spec.volumes.find((v: Obj) => v.name === mount.name);
}

/** Does a label selector (matchLabels) select these labels? */
const selects = (matchLabels: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(matchLabels).every(([key, value]) => labels[key] === value);

const networkPolicies = (manifests: Manifest[]): Obj[] => manifests.filter((m) => m.kind === "NetworkPolicy");

/** The NetworkPolicy rules that apply to a pod's labels, by direction. */
function rulesFor(manifests: Manifest[], labels: Record<string, string>, direction: "ingress" | "egress"): Obj[] {
  return networkPolicies(manifests)
    .filter((np) => selects(np.spec.podSelector.matchLabels ?? {}, labels))
    .flatMap((np) => np.spec[direction] ?? []);
}

const componentLabels = (component: string) => ({
  "app.kubernetes.io/name": "totp-custody",
  "app.kubernetes.io/instance": RELEASE,
  "app.kubernetes.io/component": component,
});

const ports = (rule: Obj): number[] => (rule.ports ?? []).map((p: Obj) => p.port);
const peersOf = (rule: Obj, key: "to" | "from"): Obj[] => rule[key] ?? [];

describe.each(Object.keys(VALUE_SETS) as ValueSet[])("the chart rendered with %s", (set) => {
  const files = VALUE_SETS[set];
  const values = effectiveValues(files);
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await renderChart(files);
  });

  it("puts every object in the release namespace", () => {
    for (const m of manifests) expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe(NAMESPACE);
  });

  it("runs every pod, init container and hook under Pod Security 'restricted' with a uid and gid >= 10000", () => {
    const all = pods(manifests);
    expect(all.some((p) => p.owner.startsWith("Pod/"))).toBe(true);
    for (const pod of all) expectRestricted(pod);
  });

  it("gives every container CPU and memory requests and limits", () => {
    for (const { owner, spec } of pods(manifests)) {
      for (const container of containersOf(spec)) {
        for (const kind of ["requests", "limits"]) {
          expect(Object.keys(container.resources?.[kind] ?? {}).sort(), `${owner} ${kind}`).toEqual(["cpu", "memory"]);
        }
      }
    }
  });

  it("mounts no API token anywhere: every ServiceAccount and pod has automount off, and each pod has its own account", () => {
    const accounts = manifests.filter((m) => m.kind === "ServiceAccount");
    for (const sa of accounts) expect(sa.automountServiceAccountToken, sa.metadata.name).toBe(false);
    for (const { owner, spec } of pods(manifests)) {
      expect(spec.automountServiceAccountToken, owner).toBe(false);
      expect(
        accounts.map((sa) => sa.metadata.name),
        owner,
      ).toContain(spec.serviceAccountName);
    }
  });

  it("never puts a secret in the environment: tokens, keys and secrets are *_FILE paths into mounted Secrets", () => {
    for (const { owner, spec } of pods(manifests)) {
      for (const container of containersOf(spec)) {
        expect(container.envFrom, owner).toBeUndefined();
        for (const entry of container.env ?? []) {
          const where = `${owner} ${entry.name}`;
          // A value from a Secret would still be an environment variable, readable in /proc and in crash dumps.
          expect(entry.valueFrom, where).toBeUndefined();
          expect(entry.name, where).not.toMatch(/(TOKEN|API_KEY|SECRET|SECRET_ID|PASSWORD|REDIS_URL|TLS_KEY_PEM)$/);
          if (/_(TOKEN|KEY|SECRET|SECRET_ID|URL|PASSWORD)_FILE$/.test(entry.name)) {
            const volume = volumeHolding(spec, container, entry.value);
            expect(volume, where).toBeDefined();
            const sources = volume.projected?.sources ?? [{ secret: volume.secret }];
            const file = entry.value.split("/").pop();
            const source = sources.find((s: Obj) => s.secret?.items.some((item: Obj) => item.path === file));
            expect(source, where).toBeDefined();
          }
        }
      }
    }
  });

  it("points TOTP_TLS_CERT, TOTP_TLS_KEY and TOTP_TLS_CA of every pod at its certificate Secret", () => {
    for (const { owner, spec } of pods(manifests)) {
      const container = spec.containers[0];
      const env = envOf(container);
      for (const [variable, key] of [
        ["TOTP_TLS_CERT", "tls.crt"],
        ["TOTP_TLS_KEY", "tls.key"],
        ["TOTP_TLS_CA", "ca.crt"],
      ]) {
        const volume = volumeHolding(spec, container, env[variable as string] as string);
        expect(
          volume?.secret?.items.map((i: Obj) => i.key),
          `${owner} ${variable}`,
        ).toContain(key);
      }
    }
  });

  it("probes totp-core with gRPC on its plaintext health port and the bots over HTTP on BOT_HEALTH_LISTEN", () => {
    const core = deploymentContainer(manifests, "core");
    const healthPort = Number(envOf(core).TOTP_HEALTH_LISTEN?.split(":").pop());
    expect(healthPort).toBe(values.core.ports.health);
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      expect(core[probe], probe).toMatchObject({ grpc: { port: healthPort } });
    }
    for (const bot of ["telegram-bot", "zulip-bot"]) {
      if (!manifests.some((m) => m.metadata.name === name(bot) && m.kind === "Deployment")) continue;
      const container = deploymentContainer(manifests, bot);
      const listen = Number(envOf(container).BOT_HEALTH_LISTEN?.split(":").pop());
      const port = container.ports.find((p: Obj) => p.containerPort === listen);
      expect(port, bot).toBeDefined();
      expect(container.livenessProbe.httpGet, bot).toEqual({ path: "/healthz", port: port.name });
      expect(container.readinessProbe.httpGet, bot).toEqual({ path: "/readyz", port: port.name });
      expect(container.startupProbe.httpGet, bot).toEqual({ path: "/healthz", port: port.name });
    }
  });

  it("passes totp-core an environment its own configuration parser accepts", async () => {
    const core = deploymentContainer(manifests, "core");
    const spec = find(manifests, "Deployment", name("core")).spec.template.spec;
    // The files the pod would have, in a temporary folder: loadConfig reads the Vault CA, the token and secret id.
    const root = await mkdtemp(join(tmpdir(), "chart-core-env-"));
    try {
      const env: Record<string, string> = {};
      for (const [variable, value] of Object.entries(envOf(core))) {
        const mounted = value.startsWith("/") && volumeHolding(spec, core, value);
        if (!mounted) {
          env[variable] = value;
          continue;
        }
        env[variable] = join(root, value);
        await mkdir(dirname(env[variable] as string), { recursive: true });
        // Each file as the Secret would hold it: the Redis URL is a URL (TLS with a CA of its own), the rest opaque
        // text.
        const content =
          variable === "TOTP_POLICY_FILE"
            ? ""
            : variable === "TOTP_REDIS_URL_FILE"
              ? `${envOf(core).TOTP_REDIS_CA_FILE ? "rediss" : "redis"}://redis:6379\n`
              : "placeholder\n";
        await writeFile(env[variable] as string, content);
      }
      const config = loadConfig(env);
      expect(config.store.kind).toBe(values.core.store);
      expect(config.listen.port).toBe(values.core.ports.grpc);
      expect(config.healthListen?.port).toBe(values.core.ports.health);
      if (config.store.kind !== "file") {
        expect(config.store.vault.addr).toBe(values.vault.address);
        expect(config.store.vault.auth.method).toBe(values.vault.auth.method);
        expect(config.store.vault.caCertPem !== undefined).toBe(
          Boolean(values.vault.ca.secretName || values.vault.ca.configMapName),
        );
      }
      expect(config.shutdownGraceMs).toBe(values.core.shutdownGraceSeconds * 1000);
      expect(config.redis?.password !== undefined).toBe(Boolean(values.redis.passwordSecret.name));
      expect(config.redis?.caPem !== undefined).toBe(
        Boolean(values.redis.ca.secretName || values.redis.ca.configMapName),
      );
      expect(config.auditKeyFile !== undefined).toBe(Boolean(values.core.audit.keySecret.name));
      expect(config.auditHeadIntervalMs).toBe(values.core.audit.headIntervalMs);
      expect(config.refusalsPerClientPerMinute).toBe(values.core.rateLimits.refusalsPerClient);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("logs in to Vault as configured: a projected token with Vault's audience, or AppRole's secret id as a file", () => {
    const deployment = find(manifests, "Deployment", name("core"));
    const spec = deployment.spec.template.spec;
    const core = spec.containers[0];
    const env = envOf(core);
    const tokenSources = spec.volumes
      .flatMap((v: Obj) => v.projected?.sources ?? [])
      .filter((s: Obj) => s.serviceAccountToken);
    if (values.vault.auth.method === "kubernetes") {
      expect(tokenSources).toHaveLength(1);
      const token = tokenSources[0].serviceAccountToken;
      expect(token.audience).toBe(values.vault.auth.kubernetes.audience);
      expect(token.expirationSeconds).toBeGreaterThanOrEqual(600);
      expect(env.VAULT_K8S_JWT_FILE?.endsWith(`/${token.path}`)).toBe(true);
      expect(volumeHolding(spec, core, env.VAULT_K8S_JWT_FILE as string)?.projected.sources).toContainEqual({
        serviceAccountToken: token,
      });
      expect(env.VAULT_K8S_ROLE).toBe(values.vault.auth.kubernetes.role);
    } else {
      expect(tokenSources).toEqual([]);
      expect(env.VAULT_K8S_JWT_FILE).toBeUndefined();
      expect(env.VAULT_ROLE_ID).toBe(values.vault.auth.approle.roleId);
      const volume = volumeHolding(spec, core, env.VAULT_SECRET_ID_FILE as string);
      expect(volume.projected.sources).toContainEqual({
        secret: {
          name: values.vault.auth.approle.secretIdSecret.name,
          items: [{ key: values.vault.auth.approle.secretIdSecret.key, path: "vault-secret-id" }],
        },
      });
    }
    expect(env.TOTP_STORE).toBe(values.core.store);
    if (values.core.store === "vault-totp") expect(env.TOTP_VAULT_TOTP_MOUNT).toBe(values.vault.totpMount);
    if (values.redis.urlSecret.name) {
      expect(volumeHolding(spec, core, env.TOTP_REDIS_URL_FILE as string)?.projected.sources).toContainEqual({
        secret: { name: values.redis.urlSecret.name, items: [{ key: values.redis.urlSecret.key, path: "redis-url" }] },
      });
    } else {
      expect(env.TOTP_REDIS_URL_FILE).toBeUndefined();
    }
  });

  it("mounts the audit chain's key and Redis' password and CA as files from what values name, and nothing unnamed", () => {
    const spec = find(manifests, "Deployment", name("core")).spec.template.spec;
    const core = spec.containers[0];
    const env = envOf(core);
    const secretFile = (ref: { name: string; key: string }, path: string): Obj =>
      ref.name ? { secret: { name: ref.name, items: [{ key: ref.key, path }] } } : undefined;
    const { ca } = values.redis;
    const caItems = [{ key: ca.key, path: "redis-ca.crt" }];
    const caFile: Obj = ca.secretName
      ? { secret: { name: ca.secretName, items: caItems } }
      : ca.configMapName
        ? { configMap: { name: ca.configMapName, items: caItems } }
        : undefined;
    for (const [variable, path, source] of [
      ["TOTP_AUDIT_KEY_FILE", "audit-key", secretFile(values.core.audit.keySecret, "audit-key")],
      ["TOTP_REDIS_PASSWORD_FILE", "redis-password", secretFile(values.redis.passwordSecret, "redis-password")],
      ["TOTP_REDIS_CA_FILE", "redis-ca.crt", caFile],
    ] as const) {
      if (!source) {
        expect(env[variable], variable).toBeUndefined();
        continue;
      }
      expect(env[variable], variable).toMatch(new RegExp(`^/.*/${path}$`));
      expect(volumeHolding(spec, core, env[variable] as string)?.projected.sources, variable).toContainEqual(source);
    }
    expect(env.TOTP_AUDIT_HEAD_INTERVAL_MS).toBe(String(values.core.audit.headIntervalMs));
    expect(env.TOTP_RATE_REFUSALS_PER_CLIENT).toBe(String(values.core.rateLimits.refusalsPerClient));
  });

  it("runs a polling bot as exactly one replica that never overlaps, and a webhook bot as configured", () => {
    for (const [bot, key, pollingMode] of [
      ["telegram-bot", "telegramBot", "polling"],
      ["zulip-bot", "zulipBot", "eventQueue"],
    ] as const) {
      if (!values[key].enabled) {
        expect(manifests.filter((m) => m.metadata.name === name(bot) && m.kind !== "NetworkPolicy")).toEqual([]);
        continue;
      }
      const deployment = find(manifests, "Deployment", name(bot));
      const pdb = manifests.find((m) => m.kind === "PodDisruptionBudget" && m.metadata.name === name(bot));
      if (values[key].mode === pollingMode) {
        expect(deployment.spec.replicas, bot).toBe(1);
        expect(deployment.spec.strategy.type, bot).toBe("Recreate");
        expect(pdb, bot).toBeUndefined();
        expect(
          manifests.find((m) => m.kind === "Service" && m.metadata.name === name(bot)),
          bot,
        ).toBeUndefined();
      } else {
        expect(deployment.spec.replicas, bot).toBe(values[key].replicas);
        expect(deployment.spec.strategy.rollingUpdate.maxUnavailable, bot).toBe(0);
        expect(pdb?.spec.maxUnavailable, bot).toBe(1);
        const service = find(manifests, "Service", name(bot));
        expect(service.spec.ports.map((p: Obj) => p.port)).toEqual([values[key].webhook.port]);
      }
    }
  });

  it("spreads every Deployment's replicas over nodes, selecting its own pods", () => {
    for (const deployment of manifests.filter((m) => m.kind === "Deployment")) {
      const spec = deployment.spec.template.spec;
      expect(spec.topologySpreadConstraints?.length, deployment.metadata.name).toBeGreaterThan(0);
      for (const constraint of spec.topologySpreadConstraints) {
        expect(constraint.labelSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
      }
    }
  });

  it("gives totp-core a PodDisruptionBudget, and an HPA instead of a fixed count when asked", () => {
    const deployment = find(manifests, "Deployment", name("core"));
    expect(find(manifests, "PodDisruptionBudget", name("core")).spec.selector.matchLabels).toEqual(
      deployment.spec.selector.matchLabels,
    );
    const hpa = manifests.find((m) => m.kind === "HorizontalPodAutoscaler");
    if (values.core.hpa.enabled) {
      expect(deployment.spec.replicas).toBeUndefined();
      expect(hpa?.spec).toMatchObject({
        minReplicas: values.core.hpa.minReplicas,
        scaleTargetRef: { name: name("core") },
      });
    } else {
      expect(deployment.spec.replicas).toBe(values.core.replicas);
      expect(hpa).toBeUndefined();
    }
  });

  it("renders a policy that totp-core's own parser accepts, naming each bot and internal client", () => {
    const text = find(manifests, "ConfigMap", name("policy")).data["policy.yaml"];
    const policy = parsePolicy(text);
    const expected = new Map<string, Obj>();
    if (values.telegramBot.enabled)
      expected.set("spiffe://totp.internal/telegram-bot", { kind: "actsFor", platform: "telegram" });
    if (values.zulipBot.enabled)
      expected.set("spiffe://totp.internal/zulip-bot", { kind: "actsFor", platform: "zulip" });
    for (const client of values.internalClients) {
      expected.set(
        `spiffe://totp.internal/${client.name}`,
        client.principal
          ? { kind: "principal", principal: client.principal, admin: client.admin ?? false }
          : { kind: "actsFor", platform: client.actsFor },
      );
    }
    expect(policy.clients).toEqual(expected);
    expect(policy.selfService).toBe(values.policy.selfService);
    expect(policy.sharedLabels).toEqual(Object.keys(values.policy.shared).sort());
  });

  it("issues, with cert-manager, one short-lived certificate per identity with the URI SAN the policy names", () => {
    const certificates = manifests.filter((m) => m.kind === "Certificate" && !m.spec.isCA);
    if (values.tls.source === "existingSecrets") {
      expect(manifests.filter((m) => m.apiVersion.startsWith("cert-manager.io/"))).toEqual([]);
      const core = find(manifests, "Deployment", name("core")).spec.template.spec;
      expect(core.volumes.find((v: Obj) => v.name === "tls").secret.secretName).toBe(values.tls.existingSecrets.core);
      return;
    }
    const policy = parsePolicy(find(manifests, "ConfigMap", name("policy")).data["policy.yaml"]);
    const uris = certificates.flatMap((c) => c.spec.uris);
    expect(certificates.every((c) => c.spec.uris.length === 1)).toBe(true);
    // Every identity the policy names has a certificate (unless the operator brings its Secret), and the only
    // certificates outside the policy are the server's and the test hook's, which call no RPC.
    const withOwnSecret = values.internalClients
      .filter((c: Obj) => c.existingSecret)
      .map((c: Obj) => `spiffe://totp.internal/${c.name}`);
    expect(new Set([...uris, ...withOwnSecret])).toEqual(
      new Set([...policy.clients.keys(), "spiffe://totp.internal/totp-core", "spiffe://totp.internal/helm-test"]),
    );
    for (const certificate of certificates) {
      const spec = certificate.spec;
      expect(spec.duration).toBe(`${values.tls.certManager.durationHours}h`);
      expect(spec.renewBefore).toBe(`${values.tls.certManager.renewBeforeHours}h`);
      expect(values.tls.certManager.durationHours).toBeLessThanOrEqual(72);
      expect(spec.usages).toContain("client auth");
      expect(spec.privateKey.rotationPolicy).toBe("Always");
      if (values.tls.certManager.issuer.create) {
        expect(spec.issuerRef).toEqual({ name: name("ca"), kind: "Issuer", group: "cert-manager.io" });
      } else {
        expect(spec.issuerRef).toEqual({
          name: values.tls.certManager.issuer.name,
          kind: values.tls.certManager.issuer.kind,
          group: "cert-manager.io",
        });
      }
    }
    // The address the bots dial is a name in the core's certificate.
    const core = find(manifests, "Certificate", name("core")).spec;
    expect(core.usages).toContain("server auth");
    const host = `${name("core")}.${NAMESPACE}.svc`;
    expect(core.dnsNames).toContain(host);
    for (const { spec } of pods(manifests)) {
      const address = envOf(spec.containers[0]).TOTP_ADDR;
      if (address) expect(address).toBe(`${host}:${values.core.ports.grpc}`);
    }
    // Each pod mounts the Secret its own Certificate writes.
    for (const { owner, spec } of pods(manifests)) {
      const secretName = spec.volumes.find((v: Obj) => v.name === "tls").secret.secretName;
      expect(
        certificates.map((c) => c.spec.secretName),
        owner,
      ).toContain(secretName);
    }
    if (values.tls.certManager.issuer.create) {
      expect(find(manifests, "Certificate", name("ca")).spec).toMatchObject({ isCA: true, secretName: name("ca") });
      expect(find(manifests, "Issuer", name("ca")).spec).toEqual({ ca: { secretName: name("ca") } });
      expect(find(manifests, "Issuer", name("selfsigned")).spec).toEqual({ selfSigned: {} });
    } else {
      expect(manifests.filter((m) => m.kind === "Issuer")).toEqual([]);
    }
  });

  it("names the images registry/totp-custody/<service> with the appVersion tag, or the digest when pinned", () => {
    for (const { owner, spec } of pods(manifests)) {
      for (const container of containersOf(spec)) {
        const service = owner.includes("telegram")
          ? "telegram-bot"
          : owner.includes("zulip")
            ? "zulip-bot"
            : "totp-core";
        const repository = `${values.image.registry}/totp-custody/${service}`;
        const digest = values.image.digests[service];
        expect(container.image, owner).toBe(digest ? `${repository}@${digest}` : `${repository}:${APP_VERSION}`);
        expect(container.imagePullPolicy).toBe(values.image.pullPolicy);
        // The images' entrypoint is node with the service's main script: the chart sets neither.
        if (owner.startsWith("Deployment/")) {
          expect(container.command).toBeUndefined();
          expect(container.args).toBeUndefined();
        }
      }
    }
  });

  describe("NetworkPolicies", () => {
    it("deny everything to and from every pod of the release, and give each pod its own policy", () => {
      const deny = find(manifests, "NetworkPolicy", name("default-deny")).spec;
      expect(deny.policyTypes).toEqual(["Ingress", "Egress"]);
      expect(deny.ingress).toBeUndefined();
      expect(deny.egress).toBeUndefined();
      for (const { owner, labels } of pods(manifests)) {
        expect(selects(deny.podSelector.matchLabels, labels), owner).toBe(true);
        const own = networkPolicies(manifests).filter(
          (np) =>
            np !== find(manifests, "NetworkPolicy", name("default-deny")) &&
            selects(np.spec.podSelector.matchLabels, labels),
        );
        expect(own.length, owner).toBe(1);
      }
    });

    it("never write a rule without peers or ports, which would allow every address", () => {
      for (const np of networkPolicies(manifests)) {
        for (const [direction, key] of [
          ["ingress", "from"],
          ["egress", "to"],
        ] as const) {
          for (const rule of np.spec[direction] ?? []) {
            expect(peersOf(rule, key).length, `${np.metadata.name} ${direction}`).toBeGreaterThan(0);
            expect(ports(rule).length, `${np.metadata.name} ${direction}`).toBeGreaterThan(0);
            for (const peer of peersOf(rule, key)) {
              // An empty namespaceSelector selects every namespace.
              if (peer.namespaceSelector)
                expect(Object.keys(peer.namespaceSelector.matchLabels ?? {}).length).toBeGreaterThan(0);
            }
          }
        }
      }
    });

    it("let every pod resolve names through cluster DNS only", () => {
      for (const { owner, labels } of pods(manifests)) {
        const dns = rulesFor(manifests, labels, "egress").filter((r) => ports(r).includes(53));
        expect(dns, owner).toHaveLength(1);
        expect(dns[0].to).toEqual([
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
          },
        ]);
        expect(dns[0].ports.map((p: Obj) => p.protocol).sort()).toEqual(["TCP", "UDP"]);
      }
    });

    it("let the bots, the test hook and the internal clients' pods reach totp-core's gRPC port, and nothing else in", () => {
      const ingress = rulesFor(manifests, componentLabels("core"), "ingress");
      const grpc = ingress.filter((r) => ports(r).includes(values.core.ports.grpc));
      expect(grpc).toHaveLength(1);
      expect(ports(grpc[0])).toEqual([values.core.ports.grpc]);
      const expected: Obj[] = [];
      for (const [bot, key] of [
        ["telegram-bot", "telegramBot"],
        ["zulip-bot", "zulipBot"],
      ]) {
        if (values[key as string].enabled)
          expected.push({ podSelector: { matchLabels: componentLabels(bot as string) } });
      }
      expected.push({ podSelector: { matchLabels: componentLabels("helm-test") } });
      for (const client of values.internalClients) {
        const peer: Obj = { podSelector: { matchLabels: client.podSelector } };
        if (Object.keys(client.namespaceSelector ?? {}).length > 0)
          peer.namespaceSelector = { matchLabels: client.namespaceSelector };
        expected.push(peer);
      }
      expect(grpc[0].from).toEqual(expected);
      // The other ingress rule is the metrics scraper's, on the metrics port only.
      const metrics = ingress.filter((r) => r !== grpc[0]);
      expect(metrics).toEqual([
        {
          from: [
            {
              namespaceSelector: { matchLabels: values.networkPolicy.metrics.namespaceSelector },
              podSelector: { matchLabels: values.networkPolicy.metrics.podSelector },
            },
          ],
          ports: [{ protocol: "TCP", port: values.core.ports.metrics }],
        },
      ]);
      // And the clients may leave for that port (their egress).
      for (const bot of ["telegram-bot", "zulip-bot", "helm-test"]) {
        if (!pods(manifests).some((p) => p.labels["app.kubernetes.io/component"] === bot)) continue;
        const toCore = rulesFor(manifests, componentLabels(bot), "egress").filter((r) =>
          r.to.some((p: Obj) => p.podSelector?.matchLabels?.["app.kubernetes.io/component"] === "core"),
        );
        expect(toCore.map(ports), bot).toEqual([[values.core.ports.grpc]]);
      }
    });

    it("let totp-core out to Vault, to Redis only when configured, and nowhere else", () => {
      const egress = rulesFor(manifests, componentLabels("core"), "egress").filter((r) => !ports(r).includes(53));
      const np = values.networkPolicy;
      const selectorPeer = (s: Obj) => {
        const peer: Obj = {};
        if (Object.keys(s.namespaceSelector ?? {}).length)
          peer.namespaceSelector = { matchLabels: s.namespaceSelector };
        if (Object.keys(s.podSelector ?? {}).length) peer.podSelector = { matchLabels: s.podSelector };
        return Object.keys(peer).length ? [peer] : [];
      };
      const expected = [
        {
          to: [...np.vault.cidrs.map((cidr: string) => ({ ipBlock: { cidr } })), ...selectorPeer(np.vault)],
          ports: [{ protocol: "TCP", port: np.vault.port }],
        },
      ];
      if (values.redis.urlSecret.name) {
        expected.push({
          to: [...np.redis.cidrs.map((cidr: string) => ({ ipBlock: { cidr } })), ...selectorPeer(np.redis)],
          ports: [{ protocol: "TCP", port: np.redis.port }],
        });
      }
      expect(egress).toEqual(expected);
    });

    it("let each bot out to its chat API's CIDRs and ports, and in from the ingress controller only in webhook mode", () => {
      for (const [bot, key, api] of [
        ["telegram-bot", "telegramBot", "telegramApi"],
        ["zulip-bot", "zulipBot", "zulipApi"],
      ] as const) {
        if (!values[key].enabled) continue;
        const egress = rulesFor(manifests, componentLabels(bot), "egress").filter((r) =>
          r.to.some((p: Obj) => p.ipBlock),
        );
        expect(egress, bot).toEqual([
          {
            to: values.networkPolicy[api].cidrs.map((cidr: string) => ({ ipBlock: { cidr } })),
            ports: values.networkPolicy[api].ports.map((port: number) => ({ protocol: "TCP", port })),
          },
        ]);
        const ingress = rulesFor(manifests, componentLabels(bot), "ingress");
        if (values[key].mode === "webhook") {
          const controller = values.networkPolicy.ingressController;
          expect(ingress, bot).toEqual([
            {
              from: [
                {
                  namespaceSelector: { matchLabels: controller.namespaceSelector },
                  podSelector: { matchLabels: controller.podSelector },
                },
              ],
              ports: [{ protocol: "TCP", port: values[key].webhook.port }],
            },
          ]);
        } else {
          expect(ingress, bot).toEqual([]);
        }
      }
    });
  });

  if (set === "webhooks, 3 replicas each") {
    it("routes each webhook's public URL to its bot through an Ingress with TLS", () => {
      const telegram = find(manifests, "Ingress", name("telegram-bot")).spec;
      expect(telegram.rules[0].host).toBe("bots.example.com");
      expect(telegram.rules[0].http.paths[0]).toMatchObject({
        path: "/telegram/updates",
        backend: { service: { name: name("telegram-bot"), port: { name: "webhook" } } },
      });
      expect(telegram.tls).toEqual([{ hosts: ["bots.example.com"], secretName: "bots-example-com-tls" }]);
      const env = envOf(deploymentContainer(manifests, "telegram-bot"));
      expect(env).toMatchObject({
        TELEGRAM_WEBHOOK_URL: "https://bots.example.com/telegram/updates",
        TELEGRAM_WEBHOOK_LISTEN: "0.0.0.0:8088",
        TELEGRAM_WEBHOOK_SECRET_FILE: "/etc/totp/credentials/telegram-webhook-secret",
        TELEGRAM_ALLOWED_USERS: "111,222",
      });
      const zulip = envOf(deploymentContainer(manifests, "zulip-bot"));
      expect(zulip).toMatchObject({
        ZULIP_WEBHOOK_LISTEN: "0.0.0.0:8088",
        ZULIP_WEBHOOK_TOKEN_FILE: "/etc/totp/credentials/zulip-webhook-token",
        ZULIP_ALLOWED_SENDERS: "ops@example.com",
        ZULIP_STREAMS: "ops",
      });
      expect(find(manifests, "Ingress", name("zulip-bot")).spec.rules[0].http.paths[0].path).toBe("/zulip");
    });
  }
});

describe("the chart's mode switches", () => {
  it("forces a polling Telegram bot and an event-queue Zulip bot to one replica whatever replicas says", async () => {
    const manifests = await renderChart([], ["telegramBot.replicas=3", "zulipBot.replicas=3"]);
    expect(find(manifests, "Deployment", name("telegram-bot")).spec.replicas).toBe(1);
    expect(find(manifests, "Deployment", name("zulip-bot")).spec.replicas).toBe(1);
  });

  it("renders no NetworkPolicy when turned off, and no bot that is disabled", async () => {
    const manifests = await renderChart(
      [],
      ["networkPolicy.enabled=false", "telegramBot.enabled=false", "zulipBot.enabled=false"],
    );
    expect(manifests.filter((m) => m.kind === "NetworkPolicy")).toEqual([]);
    expect(manifests.filter((m) => m.metadata.name.includes("-bot"))).toEqual([]);
    expect(parsePolicy(find(manifests, "ConfigMap", name("policy")).data["policy.yaml"]).clients.size).toBe(0);
  });

  it("revokes a client's older certificates through policy.issuedAfter, and refuses a name that is no client", async () => {
    const at = "2026-12-02T18:00:00Z";
    const manifests = await renderChart([], [`policy.issuedAfter.telegram-bot=${at}`]);
    const policy = parsePolicy(find(manifests, "ConfigMap", name("policy")).data["policy.yaml"]);
    expect(policy.clients.get("spiffe://totp.internal/telegram-bot")?.issuedAfter).toBe(Date.parse(at));
    expect(policy.clients.get("spiffe://totp.internal/zulip-bot")?.issuedAfter).toBeUndefined();
    await expect(renderChart([], [`policy.issuedAfter.nobody=${at}`])).rejects.toThrow(
      /policy.issuedAfter: "nobody" is not a client of this release/,
    );
    await expect(renderChart([], ["policy.issuedAfter.telegram-bot=yesterday"])).rejects.toThrow(/issuedAfter/);
  });

  it("keeps a terminating core serving for core.preStopSleepSeconds, within its grace period, where Kubernetes can", async () => {
    const core = (manifests: Manifest[]) => find(manifests, "Deployment", name("core")).spec.template.spec;
    const sleeping = core(await renderChart([], ["core.preStopSleepSeconds=7"]));
    expect(sleeping.containers[0].lifecycle.preStop).toEqual({ sleep: { seconds: 7 } });
    expect(sleeping.terminationGracePeriodSeconds).toBe(7 + CHART_VALUES.core.shutdownGraceSeconds + 5);
    expect(core(await renderChart([], ["core.preStopSleepSeconds=0"])).containers[0].lifecycle).toBeUndefined();
    // The sleep action is there from Kubernetes 1.30; an older API server would refuse the Deployment.
    const old = await helm([...templateArgs([]), "--kube-version", "1.29.0"]);
    expect(old.code).toBe(0);
    expect(core(parseManifests(old.stdout)).containers[0].lifecycle).toBeUndefined();
  });

  it("gives totp-core Node's heap sizes through NODE_OPTIONS, and leaves Node's defaults when emptied", async () => {
    const coreEnv = async (sets: string[]) => envOf(deploymentContainer(await renderChart([], sets), "core"));
    expect((await coreEnv([])).NODE_OPTIONS).toBe("--max-semi-space-size=32");
    expect((await coreEnv(["core.nodeOptions=--max-old-space-size=200"])).NODE_OPTIONS).toBe(
      "--max-old-space-size=200",
    );
    expect(await coreEnv(["core.nodeOptions="])).not.toHaveProperty("NODE_OPTIONS");
  });

  it("has no PodDisruptionBudget for a single core replica", async () => {
    const manifests = await renderChart([], ["core.replicas=1"]);
    expect(manifests.filter((m) => m.kind === "PodDisruptionBudget")).toEqual([]);
  });
});

describe("the chart README's internal client", () => {
  it("runs its example Job under the same Pod Security 'restricted' checks as the chart's pods", () => {
    const readme = readFileSync(new URL("../totp-custody/README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## An internal client end to end"));
    const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1] as string));
    const job = blocks.find((block) => block?.kind === "Job");
    expect(job, "a Job in a yaml block of the section").toBeDefined();
    expectRestricted({ owner: "README Job", spec: job.spec.template.spec });
    // It is one of the pods the chart lets in to totp-core: the internal client's selector picks it.
    expect(job.spec.template.metadata.labels).toMatchObject(blocks[0].internalClients[0].podSelector);
  });
});

describe.each([
  ["the project README", "../../../README.md"],
  ["the chart README", "../totp-custody/README.md"],
])("the install command of %s", (_readme, path) => {
  it("lets totp-core out to the external Vault it names, and to no in-cluster Vault", async () => {
    const readme = readFileSync(new URL(path, import.meta.url), "utf8");
    const command = readme.match(/helm install totp-custody [\s\S]*?[^\\]\n/)?.[0] ?? "";
    const sets = [...command.matchAll(/--set '?([^\s']+)'?/g)].map((m) => m[1] as string);
    expect(sets).toContain("vault.address=https://vault.example.com:8200");
    const manifests = await renderChart([], sets);
    const toVault = rulesFor(manifests, componentLabels("core"), "egress").filter((r) =>
      ports(r).includes(CHART_VALUES.networkPolicy.vault.port),
    );
    expect(toVault).toHaveLength(1);
    expect(toVault[0].to).toEqual([{ ipBlock: { cidr: "203.0.113.10/32" } }]);
  });
});

describe("the values of the cluster test (chart-cluster.test.ts)", () => {
  it("let every pod reach the test cluster's CoreDNS port and totp-core reach only the host's Vault", async () => {
    const gateway = "10.244.0.1";
    const values = clusterValues(
      {
        vaultAddr: `https://${gateway}:8200`,
        telegramApiRoot: `http://${gateway}:8081`,
        zulipRealm: `http://${gateway}:8082`,
        zulipBotEmail: "bot@zulip.test",
      },
      { imageTag: "test", logLevel: "info", hostClient: "host-client" },
    );
    const dir = await mkdtemp(join(tmpdir(), "chart-cluster-values-"));
    try {
      const file = join(dir, "values.json");
      await writeFile(file, JSON.stringify(values));
      const run = await helm([...templateArgs([]), "--values", file]);
      expect(run.code, run.stderr).toBe(0);
      // The cluster test wants an install without a warning: null over a default map is no conflict for helm.
      expect(run.stderr).toBe("");
      const manifests = parseManifests(run.stdout);
      for (const { owner, labels } of pods(manifests)) {
        const dns = rulesFor(manifests, labels, "egress").filter((r) =>
          peersOf(r, "to").some((p) => p.podSelector?.matchLabels?.["k8s-app"]),
        );
        expect(dns.map(ports), owner).toEqual([[KUBE_CLUSTER_DNS_PORT, KUBE_CLUSTER_DNS_PORT]]);
      }
      const toVault = rulesFor(manifests, componentLabels("core"), "egress").filter((r) => ports(r).includes(8200));
      expect(toVault.map((r) => r.to)).toEqual([[{ ipBlock: { cidr: `${gateway}/32` } }]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
