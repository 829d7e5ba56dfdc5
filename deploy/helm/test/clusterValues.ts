import { KUBE_CLUSTER_DNS_PORT } from "@totp-custody/testkit";

/** Where the release's dependencies listen on the host, as pods reach them (the bridge's gateway). */
export interface ClusterEndpoints {
  vaultAddr: string;
  telegramApiRoot: string;
  zulipRealm: string;
  zulipBotEmail: string;
}

/** What the test varies: the images' tag, totp-core's log level (the upgrade changes it), the host's client. */
export interface ClusterSettings {
  imageTag: string;
  logLevel: string;
  /** An internal client holding a principal, which the test calls totp-core as from the host (the NodePort). */
  hostClient: string;
}

/** The Secrets the test creates before installing: the chart's existing-Secrets mode and the bots' credentials. */
export const SECRETS = {
  core: "core-tls",
  telegramBot: "telegram-bot-tls",
  zulipBot: "zulip-bot-tls",
  helmTest: "helm-test-tls",
  telegramToken: "telegram-bot-token",
  zulipApiKey: "zulip-bot-api-key",
} as const;

const cidrOf = (url: string) => [`${new URL(url).hostname}/32`];
const portOf = (url: string) => Number(new URL(url).port);

/**
 * The values an operator would give on this cluster: images imported into the node (pullPolicy Never, the test's
 * tag), certificates from existing Secrets, Vault, the Bot API and Zulip on the host, totp-core on a NodePort.
 */
export function clusterValues(endpoints: ClusterEndpoints, { imageTag, logLevel, hostClient }: ClusterSettings) {
  return {
    image: { pullPolicy: "Never", tag: imageTag },
    tls: {
      source: "existingSecrets",
      existingSecrets: {
        core: SECRETS.core,
        telegramBot: SECRETS.telegramBot,
        zulipBot: SECRETS.zulipBot,
        helmTest: SECRETS.helmTest,
      },
    },
    vault: { address: endpoints.vaultAddr },
    core: {
      replicas: 2,
      logLevel,
      service: { type: "NodePort" },
      // The steady client of the upgrade asks ten times a second for the same label: far above production limits.
      rateLimits: { requestsPerPrincipal: 100_000, codesPerLabel: 100_000 },
    },
    telegramBot: {
      apiRoot: endpoints.telegramApiRoot,
      tokenSecret: { name: SECRETS.telegramToken, key: "token" },
    },
    zulipBot: {
      realm: endpoints.zulipRealm,
      email: endpoints.zulipBotEmail,
      apiKeySecret: { name: SECRETS.zulipApiKey, key: "api-key" },
    },
    networkPolicy: {
      // The test cluster's CoreDNS port behind the kube-dns Service's 53. Its bridge CNI enforces no policy, but
      // these are the values an enforcing CNI would need.
      dns: { ports: [KUBE_CLUSTER_DNS_PORT] },
      // Vault is on the host: its address only, without the default in-cluster selectors (null deletes them).
      vault: {
        cidrs: cidrOf(endpoints.vaultAddr),
        namespaceSelector: null,
        podSelector: null,
        port: portOf(endpoints.vaultAddr),
      },
      telegramApi: { cidrs: cidrOf(endpoints.telegramApiRoot), ports: [portOf(endpoints.telegramApiRoot)] },
      zulipApi: { cidrs: cidrOf(endpoints.zulipRealm), ports: [portOf(endpoints.zulipRealm)] },
    },
    internalClients: [
      {
        name: hostClient,
        principal: `service:${hostClient}`,
        admin: true,
        podSelector: { app: hostClient },
        existingSecret: `${hostClient}-tls`,
      },
    ],
  };
}
