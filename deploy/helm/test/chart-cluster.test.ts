import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTotpClient, type TotpClient } from "@totp-custody/client";
import { protoRoot } from "@totp-custody/contract";
import { issueCertificate, writePem } from "@totp-custody/pki";
import {
  eventually,
  expectedCode,
  type KubeCluster,
  makeTestPki,
  newSecret,
  runCommand,
  SKIP_CLUSTER_TESTS,
  spiffeId,
  startKubeCluster,
  startVault,
  type TestPki,
  toolPath,
  type Vault,
} from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLUSTER_TEST_TAG, importReleaseImages } from "./importReleaseImages.js";
import { CHART_DIR, helm, NAMESPACE, RELEASE } from "./renderChart.js";

/*
 * The chart on a real one-node cluster whose pods run: the project's images imported into containerd, OpenBao on
 * the host at the pod bridge's gateway with Kubernetes auth pointed at this cluster, certificates from existing
 * Secrets (no cert-manager here). The bots are not deployed yet: their images and local chat servers are not on
 * main.
 */

const CORE = `${RELEASE}-core`;
const HOST_CLIENT = "deployer";
const VAULT_POLICY = `
path "secret/data/totp/*" { capabilities = ["create", "read", "update", "delete"] }
path "secret/metadata/totp/*" { capabilities = ["read", "list"] }
`;

interface PodList {
  items: {
    metadata: { name: string; labels?: Record<string, string> };
    status: { phase: string; conditions?: { type: string; status: string }[] };
  }[];
}

describe.skipIf(process.env[SKIP_CLUSTER_TESTS] === "1")("the chart on a real cluster", () => {
  let cluster: KubeCluster;
  let vault: Vault;
  let pki: TestPki;
  let dir: string;
  let valuesPath: string;
  let nodePort: number;
  let client: TotpClient;

  const kubectl = (...args: string[]) => cluster.kubectl(["-n", NAMESPACE, ...args]);
  const helmIn = (...args: string[]) => helm([...args, "--namespace", NAMESPACE, "--kubeconfig", cluster.kubeconfig]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "totp-chart-cluster-"));
    cluster = await startKubeCluster();
    await importReleaseImages(cluster, dir, ["totp-core"]);
    vault = await startVault({ listenAddress: cluster.gatewayAddress });
    pki = await makeTestPki(["telegram-bot", "zulip-bot", "helm-test", HOST_CLIENT]);

    // Vault's Kubernetes auth, checking the core's projected token with this cluster's TokenReview.
    const api = cluster.api;
    await api.createServiceAccount("openbao", "token-reviewer");
    await api.bindClusterRole("system:auth-delegator", "openbao", "token-reviewer");
    await vault.writePolicy("totp-core", VAULT_POLICY);
    await vault.request("POST", "sys/auth/kubernetes", { type: "kubernetes" });
    await vault.request("POST", "auth/kubernetes/config", {
      kubernetes_host: api.url,
      kubernetes_ca_cert: api.caCertPem,
      token_reviewer_jwt: await api.createToken("openbao", "token-reviewer"),
      disable_local_ca_jwt: true,
    });
    await vault.request("POST", "auth/kubernetes/role/totp-core", {
      bound_service_account_names: [CORE],
      bound_service_account_namespaces: [NAMESPACE],
      audience: "vault",
      token_policies: ["totp-core"],
      token_ttl: "1h",
    });

    await cluster.kubectl(["create", "namespace", NAMESPACE]);
    await cluster.kubectl(["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted"]);
    // The core's certificate names its Service (the helm test's and the bots' address) and 127.0.0.1 (the host's
    // calls through the NodePort).
    const core = await writePem(
      pki.dir,
      "core-in-cluster",
      await issueCertificate(pki.ca, {
        commonName: "totp-core",
        uris: [spiffeId("totp-core")],
        dnsNames: [`${CORE}.${NAMESPACE}.svc`, `${CORE}.${NAMESPACE}.svc.cluster.local`, "localhost"],
        ipAddresses: ["127.0.0.1"],
      }),
    );
    const tlsSecret = (name: string, paths: { certPath: string; keyPath: string }) =>
      kubectl(
        ...["create", "secret", "generic", name, "--type=kubernetes.io/tls"],
        `--from-file=tls.crt=${paths.certPath}`,
        `--from-file=tls.key=${paths.keyPath}`,
        `--from-file=ca.crt=${pki.caPath}`,
      );
    await tlsSecret("core-tls", core);
    for (const name of ["telegram-bot", "zulip-bot", "helm-test", HOST_CLIENT]) {
      await tlsSecret(`${name}-tls`, pki.clients[name] as { certPath: string; keyPath: string });
    }

    valuesPath = join(dir, "values.json");
    await writeValues(valuesPath, vault.addr, cluster.gatewayAddress, "info");
  }, 900_000);

  afterAll(async () => {
    client?.close();
    await vault?.stop();
    await cluster?.stop();
    await pki?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 300_000);

  it("installs with --wait and no warning; every pod is Running and Ready; helm test passes", async () => {
    const install = await helmIn("install", RELEASE, CHART_DIR, "--values", valuesPath, "--wait", "--timeout", "5m");
    expect(install.stderr.trim()).toBe("");
    expect(install.code).toBe(0);

    const pods = JSON.parse(await kubectl("get", "pods", "-o", "json")) as PodList;
    expect(pods.items.length).toBeGreaterThanOrEqual(2);
    for (const pod of pods.items) {
      expect(pod.status.phase, pod.metadata.name).toBe("Running");
      expect(pod.status.conditions?.find((c) => c.type === "Ready")?.status, pod.metadata.name).toBe("True");
    }

    const test = await helmIn("test", RELEASE, "--logs");
    expect(test.stdout).toContain("SERVING");
    expect(test.code).toBe(0);
  });

  it("logs in to OpenBao with the projected service-account token and serves a code to grpcurl from the host", async () => {
    const service = JSON.parse(await kubectl("get", "service", CORE, "-o", "json")) as {
      spec: { ports: { name: string; nodePort: number }[] };
    };
    nodePort = service.spec.ports.find((port) => port.name === "grpc")?.nodePort ?? 0;
    expect(nodePort).toBeGreaterThan(0);

    const secret = newSecret();
    const registered = await eventually(
      () => grpcurl("RegisterSeed", { label: "in-cluster", otpauthUri: `otpauth://totp/Demo:alice?secret=${secret}` }),
      { what: "RegisterSeed through the NodePort", timeoutMs: 60_000 },
    );
    expect(registered).toMatchObject({ info: { label: "in-cluster" } });
    const answer = await grpcurl("GenerateCode", { label: "in-cluster" });
    expect(answer.code).toBe(expectedCode(secret, Date.parse(answer.serverTime as string)));

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

  it("rolls an upgrade without a failed call from a steady client", async () => {
    const cert = pki.clients[HOST_CLIENT] as { certPem: string; keyPem: string };
    client = createTotpClient({
      address: `127.0.0.1:${nodePort}`,
      ca: pki.ca.certPem,
      cert: cert.certPem,
      key: cert.keyPem,
    });
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
      await writeValues(valuesPath, vault.addr, cluster.gatewayAddress, "debug");
      const upgrade = await helmIn("upgrade", RELEASE, CHART_DIR, "--values", valuesPath, "--wait", "--timeout", "5m");
      expect(upgrade.stderr.trim()).toBe("");
      expect(upgrade.code).toBe(0);
      // The old pods are gone once the rollout is complete; calls go on a moment longer to cross the switch.
      await runCommand(toolPath("kubectl"), [
        ...["--kubeconfig", cluster.kubeconfig, "-n", NAMESPACE],
        ...["rollout", "status", `deployment/${CORE}`, "--timeout=300s"],
      ]);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      running = false;
      await steady;
    }
    expect(calls).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    const env = JSON.parse(await kubectl("get", "deployment", CORE, "-o", "json")) as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    expect(env.spec.template.spec.containers[0]?.env.find((e) => e.name === "TOTP_LOG_LEVEL")?.value).toBe("debug");
  });

  it("uninstalls leaving nothing of the release behind", async () => {
    const uninstall = await helmIn("uninstall", RELEASE, "--wait", "--timeout", "5m");
    expect(uninstall.code).toBe(0);
    const left = await eventually(
      async () => {
        const out = await kubectl(
          "get",
          "all,configmaps,secrets,serviceaccounts,poddisruptionbudgets,networkpolicies,roles,rolebindings",
          "-l",
          `app.kubernetes.io/instance=${RELEASE}`,
          "-o",
          "name",
        );
        return out.trim() === "" ? "nothing" : undefined;
      },
      { what: "the release's objects to be gone", timeoutMs: 120_000 },
    );
    expect(left).toBe("nothing");
    const releaseSecrets = await kubectl("get", "secrets", "-l", "owner=helm", "-o", "name");
    expect(releaseSecrets.trim()).toBe("");
  });

  async function grpcurl(method: string, body: unknown): Promise<Record<string, unknown>> {
    const cert = pki.clients[HOST_CLIENT] as { certPath: string; keyPath: string };
    const out = await runCommand(toolPath("grpcurl"), [
      ...["-cacert", pki.caPath, "-cert", cert.certPath, "-key", cert.keyPath],
      ...["-import-path", protoRoot, "-proto", "totp/v1/totp.proto", "-format-error"],
      ...["-d", JSON.stringify(body), `127.0.0.1:${nodePort}`, `totp.v1.TotpService/${method}`],
    ]);
    return JSON.parse(out) as Record<string, unknown>;
  }
});

async function writeValues(path: string, vaultAddr: string, gateway: string, logLevel: string): Promise<void> {
  const values = {
    image: { pullPolicy: "Never", tag: CLUSTER_TEST_TAG },
    tls: {
      source: "existingSecrets",
      existingSecrets: {
        core: "core-tls",
        telegramBot: "telegram-bot-tls",
        zulipBot: "zulip-bot-tls",
        helmTest: "helm-test-tls",
      },
    },
    vault: { address: vaultAddr },
    core: { replicas: 2, logLevel, service: { type: "NodePort" } },
    telegramBot: { enabled: false },
    zulipBot: { enabled: false },
    networkPolicy: { vault: { cidrs: [`${gateway}/32`], port: Number(new URL(vaultAddr).port) } },
    internalClients: [
      {
        name: HOST_CLIENT,
        principal: `service:${HOST_CLIENT}`,
        admin: true,
        podSelector: { app: HOST_CLIENT },
        existingSecret: `${HOST_CLIENT}-tls`,
      },
    ],
  };
  await writeFile(path, JSON.stringify(values));
}
