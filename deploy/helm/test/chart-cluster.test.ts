import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTotpClient, type TotpClient } from "@totp-custody/client";
import { protoRoot } from "@totp-custody/contract";
import { issueCertificate, type PemPair } from "@totp-custody/pki";
import {
  codesBetween,
  enableVaultKubernetesAuth,
  eventually,
  expectedCode,
  type KubeCluster,
  makeTestPki,
  newSecret,
  runCommand,
  SKIP_CLUSTER_TESTS,
  spiffeId,
  startKubeCluster,
  startTelegramServer,
  startVault,
  startZulipServer,
  type TelegramServer,
  type TestPki,
  type TgUser,
  toolPath,
  type Vault,
  type ZulipServer,
  type ZulipUser,
} from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterEndpoints, clusterValues, SECRETS } from "./clusterValues.js";
import { CLUSTER_TEST_TAG, importReleaseImages } from "./importReleaseImages.js";
import { CHART_DIR, helm, NAMESPACE, RELEASE } from "./renderChart.js";

/*
 * The chart on a real one-node cluster whose pods run: the project's images imported into containerd, OpenBao and
 * the local Telegram and Zulip servers on the host at the pod bridge's gateway, Vault's Kubernetes auth pointed at
 * this cluster, certificates from existing Secrets (no cert-manager here).
 */

const CORE = `${RELEASE}-core`;
const HOST_CLIENT = "deployer";
const SERVICES = ["totp-core", "telegram-bot", "zulip-bot"];
const VAULT_POLICY = `
path "secret/data/totp/*" { capabilities = ["create", "read", "update", "delete"] }
path "secret/metadata/totp/*" { capabilities = ["read", "list"] }
`;

interface PodList {
  items: {
    metadata: { name: string; labels?: Record<string, string> };
    spec: { containers: { name: string }[] };
    status: { phase: string; conditions?: { type: string; status: string }[] };
  }[];
}

/**
 * Install, upgrade and uninstall wait on pods starting and stopping; helm's own `--timeout 5m` bounds each. Alone
 * they take 6-15 s, but on a loaded 2-core machine with the rest of the suite running an upgrade took over the
 * default 120 s, so the tests give helm's bound room instead of failing first.
 */
const HELM_STEP_MS = 600_000;

// Where it cannot run (not root, not Linux) startKubeCluster throws saying so: the test fails unless opted out.
const onCluster = describe.skipIf(process.env[SKIP_CLUSTER_TESTS] === "1");

onCluster("the chart on a real cluster", { timeout: HELM_STEP_MS }, () => {
  let cluster: KubeCluster;
  let vault: Vault;
  let telegram: TelegramServer;
  let zulip: ZulipServer;
  let zulipBot: ZulipUser;
  let pki: TestPki;
  let dir: string;
  let valuesPath: string;
  let endpoints: ClusterEndpoints;
  let nodePort: number;
  let client: TotpClient | undefined;
  /** Everything that must never reach a log line: seeds, codes, the bots' credentials. */
  const secrets = new Set<string>();

  const kubectl = (args: readonly string[], input?: string) => cluster.kubectl(["-n", NAMESPACE, ...args], input);
  const helmIn = (...args: string[]) => helm([...args, "--namespace", NAMESPACE, "--kubeconfig", cluster.kubeconfig]);
  const writeValues = (logLevel: string) =>
    writeFile(
      valuesPath,
      JSON.stringify(clusterValues(endpoints, { imageTag: CLUSTER_TEST_TAG, logLevel, hostClient: HOST_CLIENT })),
    );
  // Through stdin, so that no key or token is ever a command-line argument (an error message would quote it).
  const createSecret = (name: string, stringData: Record<string, string>, type = "Opaque") =>
    kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name }, type, stringData }),
    );
  const createTlsSecret = (name: string, pair: PemPair) =>
    createSecret(
      name,
      { "tls.crt": pair.certPem, "tls.key": pair.keyPem, "ca.crt": pki.ca.certPem },
      "kubernetes.io/tls",
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "totp-chart-cluster-"));
    cluster = await startKubeCluster();
    await importReleaseImages(cluster, dir, SERVICES);
    vault = await startVault({ listenAddress: cluster.gatewayAddress });
    telegram = await startTelegramServer({ listenAddress: cluster.gatewayAddress });
    zulip = await startZulipServer({ listenAddress: cluster.gatewayAddress });
    zulipBot = zulip.addBot({ fullName: "TOTP Bot" });
    secrets.add(telegram.token).add(zulipBot.apiKey);
    pki = await makeTestPki(["telegram-bot", "zulip-bot", "helm-test", HOST_CLIENT]);

    // Vault's Kubernetes auth, checking the core's projected token with this cluster's TokenReview.
    await vault.writePolicy("totp-core", VAULT_POLICY);
    secrets.add(await enableVaultKubernetesAuth(vault, cluster.api));
    await vault.request("POST", "auth/kubernetes/role/totp-core", {
      bound_service_account_names: [CORE],
      bound_service_account_namespaces: [NAMESPACE],
      audience: "vault",
      token_policies: ["totp-core"],
      token_ttl: "1h",
    });

    await cluster.kubectl(["create", "namespace", NAMESPACE]);
    await cluster.kubectl(["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted"]);
    // The core's certificate names its Service (the bots' and the helm test's address) and 127.0.0.1 (the host's
    // calls through the NodePort).
    const core = await issueCertificate(pki.ca, {
      commonName: "totp-core",
      uris: [spiffeId("totp-core")],
      dnsNames: [`${CORE}.${NAMESPACE}.svc`, `${CORE}.${NAMESPACE}.svc.cluster.local`, "localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    await createTlsSecret(SECRETS.core, core);
    await createTlsSecret(SECRETS.telegramBot, pki.clients["telegram-bot"] as PemPair);
    await createTlsSecret(SECRETS.zulipBot, pki.clients["zulip-bot"] as PemPair);
    await createTlsSecret(SECRETS.helmTest, pki.clients["helm-test"] as PemPair);
    await createTlsSecret(`${HOST_CLIENT}-tls`, pki.clients[HOST_CLIENT] as PemPair);
    await createSecret(SECRETS.telegramToken, { token: telegram.token });
    await createSecret(SECRETS.zulipApiKey, { "api-key": zulipBot.apiKey });

    endpoints = {
      vaultAddr: vault.addr,
      telegramApiRoot: telegram.apiRoot,
      zulipRealm: zulip.url,
      zulipBotEmail: zulipBot.email,
    };
    valuesPath = join(dir, "values.json");
    await writeValues("info");
  }, 900_000);

  afterAll(async () => {
    client?.close();
    await telegram?.close();
    await zulip?.close();
    await vault?.stop();
    await cluster?.stop();
    await pki?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 300_000);

  it("installs with --wait and no warning; every pod is Running and Ready; helm test passes", async () => {
    const install = await helmIn("install", RELEASE, CHART_DIR, "--values", valuesPath, "--wait", "--timeout", "5m");
    expect(install.stderr.trim()).toBe("");
    expect(install.code).toBe(0);

    const pods = JSON.parse(await kubectl(["get", "pods", "-o", "json"])) as PodList;
    const components = pods.items.map((pod) => pod.metadata.labels?.["app.kubernetes.io/component"]).sort();
    expect(components).toEqual(["core", "core", "telegram-bot", "zulip-bot"]);
    for (const pod of pods.items) {
      expect(pod.status.phase, pod.metadata.name).toBe("Running");
      expect(pod.status.conditions?.find((c) => c.type === "Ready")?.status, pod.metadata.name).toBe("True");
    }

    const test = await helmIn("test", RELEASE);
    expect(test.stdout).toMatch(/TEST SUITE: +totp-custody-helm-test[\s\S]*Phase: +Succeeded/);
    expect(test.code).toBe(0);
  });

  it("logs in to OpenBao with the projected service-account token and serves a code to grpcurl from the host", async () => {
    const service = JSON.parse(await kubectl(["get", "service", CORE, "-o", "json"])) as {
      spec: { ports: { name: string; nodePort: number }[] };
    };
    nodePort = service.spec.ports.find((port) => port.name === "grpc")?.nodePort ?? 0;
    expect(nodePort).toBeGreaterThan(0);

    const seed = newSecret();
    secrets.add(seed);
    // kube-proxy programs a new NodePort a moment after the pods are Ready: the first call may find nothing.
    const registered = await eventually(
      () => grpcurl("RegisterSeed", { label: "in-cluster", otpauthUri: `otpauth://totp/Demo:alice?secret=${seed}` }),
      { what: "RegisterSeed through the NodePort", timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(registered).toMatchObject({ info: { label: "in-cluster" } });
    const answer = await grpcurl("GenerateCode", { label: "in-cluster" });
    secrets.add(String(answer.code));
    expect(answer.code).toBe(expectedCode(seed, Date.parse(answer.serverTime as string)));

    // Each replica's Vault token came from a Kubernetes login as the core's ServiceAccount (its projected token,
    // reviewed by this cluster): the tokens OpenBao issued say so.
    const accessors = await vault.request<{ data: { keys: string[] } }>("LIST", "auth/token/accessors");
    const logins = [];
    for (const accessor of accessors.data.keys) {
      const token = await vault.request<{ data: { path: string; meta?: Record<string, string> | null } }>(
        "POST",
        "auth/token/lookup-accessor",
        { accessor },
      );
      if (token.data.path === "auth/kubernetes/login") logins.push(token.data.meta ?? {});
    }
    expect(logins.length).toBeGreaterThanOrEqual(2);
    for (const meta of logins) {
      expect(meta).toMatchObject({
        role: "totp-core",
        service_account_name: CORE,
        service_account_namespace: NAMESPACE,
      });
    }
  });

  it("answers a Telegram user's /code with the right code through the in-cluster bot", async () => {
    const user = telegram.createUser({ first_name: "Carol" });
    const seed = newSecret();
    secrets.add(seed);
    const added = telegram.sendText(user, `/add cluster otpauth://totp/Cluster:carol?secret=${seed}`);
    expect((await telegramReply(user, added)).text).toMatch(/^Stored cluster \(Cluster, carol\)/);

    const asked = Date.now();
    const sent = telegram.sendText(user, "/code cluster");
    const reply = await telegramReply(user, sent);
    const spoilers = reply.entities.filter((entity) => entity.type === "spoiler");
    expect(spoilers).toHaveLength(1);
    const { offset, length } = spoilers[0] ?? { offset: 0, length: 0 };
    const code = reply.text.slice(offset, offset + length);
    secrets.add(code);
    expect(codesBetween(seed, asked - 1000, Date.now() + 1000)).toContain(code);
  });

  it("answers a Zulip user's code request with the right code through the in-cluster bot", async () => {
    const user = zulip.addUser({ fullName: "Dave Poe" });
    const seed = newSecret();
    secrets.add(seed);
    expect((await zulipReply(user, `add cluster ${seed}`)).visibleText).toMatch(/^Stored cluster/);

    const asked = Date.now();
    const reply = await zulipReply(user, "code cluster");
    expect(reply.asSent.spoilers).toHaveLength(1);
    const code = /^`(\d+)`$/.exec(reply.asSent.spoilers[0]?.body.trim() ?? "")?.[1] ?? "";
    secrets.add(code);
    expect(codesBetween(seed, asked - 1000, Date.now() + 1000)).toContain(code);
  });

  it("rolls an upgrade without a failed call from a steady client", async () => {
    const cert = pki.clients[HOST_CLIENT] as PemPair;
    // One attempt per call: a retry inside the client would hide a refused connection.
    client = createTotpClient({
      address: `127.0.0.1:${nodePort}`,
      ca: pki.ca.certPem,
      cert: cert.certPem,
      key: cert.keyPem,
      maxAttempts: 1,
      serverName: "localhost",
    });
    const corePods = async () =>
      (
        JSON.parse(await kubectl(["get", "pods", "-l", "app.kubernetes.io/component=core", "-o", "json"])) as PodList
      ).items.map((pod) => pod.metadata.name);
    const before = await corePods();
    const failures: string[] = [];
    let calls = 0;
    let running = true;
    const steady = (async () => {
      while (running) {
        try {
          await client.generateCode({ label: "in-cluster" });
        } catch (error) {
          failures.push((error as Error).message);
        }
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      await writeValues("debug");
      const upgrade = await helmIn("upgrade", RELEASE, CHART_DIR, "--values", valuesPath, "--wait", "--timeout", "5m");
      expect(upgrade.stderr.trim()).toBe("");
      expect(upgrade.code).toBe(0);
      // --wait returns once the new pods are Ready; the old ones are still draining. Call on until they are gone.
      await kubectl(["rollout", "status", `deployment/${CORE}`, "--timeout=300s"]);
      await eventually(async () => (await corePods()).length === 2, {
        what: "the old core pods to be gone",
        timeoutMs: 120_000,
        intervalMs: 500,
      });
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      running = false;
      await steady;
    }
    expect(calls).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    // Both replicas were replaced while the client called.
    const after = await corePods();
    expect(after).toHaveLength(2);
    expect(after.filter((pod) => before.includes(pod))).toEqual([]);
    const deployment = JSON.parse(await kubectl(["get", "deployment", CORE, "-o", "json"])) as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    const env = deployment.spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((entry) => entry.name === "TOTP_LOG_LEVEL")?.value).toBe("debug");
  });

  it("writes no seed, code, token or key in any log line", async () => {
    const pods = JSON.parse(await kubectl(["get", "pods", "-o", "json"])) as PodList;
    let logs = "";
    for (const pod of pods.items) {
      for (const container of pod.spec.containers) {
        logs += await kubectl(["logs", pod.metadata.name, "-c", container.name]);
      }
    }
    expect(logs).toContain("totp-core");
    for (const secret of secrets) expect(logs.includes(secret), "a secret in the pods' logs").toBe(false);
    expect(logs).not.toContain("PRIVATE KEY");
  });

  it("uninstalls leaving nothing of the release behind", async () => {
    const uninstall = await helmIn("uninstall", RELEASE, "--wait", "--timeout", "5m");
    expect(uninstall.code).toBe(0);
    const kinds =
      "pods,services,deployments,replicasets,configmaps,secrets,serviceaccounts,poddisruptionbudgets,networkpolicies";
    const left = await eventually(
      async () => {
        const out = await kubectl(["get", kinds, "-l", `app.kubernetes.io/instance=${RELEASE}`, "-o", "name"]);
        // Thrown, so that a timeout names what is left.
        if (out.trim() !== "") throw new Error(`still there: ${out.trim().split("\n").join(", ")}`);
        return "nothing";
      },
      // As long as helm's own bound: a loaded machine once took over 120 s to remove the pods.
      { what: "the release's objects to be gone", timeoutMs: 300_000, intervalMs: 1000 },
    );
    expect(left).toBe("nothing");
    // Helm's own record of the release, and the core's pods, which carry the labels of a replica set now deleted.
    expect(await kubectl(["get", "secrets", "-l", "owner=helm", "-o", "name"])).toBe("");
    expect(await kubectl(["get", "pods", "-o", "name"])).toBe("");
  });

  /** The bot's reply as sent (its code message may be edited to expired before the test looks). */
  function telegramReply(user: TgUser, after: number) {
    return telegram.waitFor(
      () => {
        const reply = telegram.chat(user.id).find((m) => m.from === "bot" && m.messageId > after);
        return reply && telegram.messageAsSent(user.id, reply.messageId);
      },
      { timeoutMs: 60_000, what: `the Telegram bot's reply after message ${after}` },
    );
  }

  async function zulipReply(user: ZulipUser, content: string) {
    const replies = () =>
      zulip.messagesSeenBy(user, { with: zulipBot }).filter((message) => message.senderId === zulipBot.id);
    const before = replies().length;
    zulip.sendDm(user, zulipBot, content);
    return zulip.waitFor(() => replies()[before], {
      what: `the Zulip bot's reply to ${content.split(" ")[0]}`,
      timeoutMs: 60_000,
    });
  }

  async function grpcurl(method: string, body: unknown): Promise<Record<string, unknown>> {
    const cert = pki.clients[HOST_CLIENT] as { certPath: string; keyPath: string };
    // The request on stdin: a seed must not be a command-line argument either.
    const out = await runCommand(
      toolPath("grpcurl"),
      [
        ...["-cacert", pki.caPath, "-cert", cert.certPath, "-key", cert.keyPath],
        ...["-import-path", protoRoot, "-proto", "totp/v1/totp.proto", "-format-error"],
        ...["-d", "@", `127.0.0.1:${nodePort}`, `totp.v1.TotpService/${method}`],
      ],
      JSON.stringify(body),
    );
    return JSON.parse(out) as Record<string, unknown>;
  }
});
