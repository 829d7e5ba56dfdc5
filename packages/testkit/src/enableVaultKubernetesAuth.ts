import type { KubeApiServer } from "./startKubeApiServer.js";
import type { Vault } from "./startVault.js";

/**
 * Turns on OpenBao's Kubernetes auth at `auth/kubernetes`, checking service-account tokens with `api`'s TokenReview
 * as the ServiceAccount openbao/token-reviewer (bound to system:auth-delegator, as Vault's docs ask). Roles are the
 * caller's. Answers the reviewer's token, a secret that tests keep out of every log.
 */
export async function enableVaultKubernetesAuth(vault: Vault, api: KubeApiServer): Promise<string> {
  await api.createServiceAccount("openbao", "token-reviewer");
  await api.bindClusterRole("system:auth-delegator", "openbao", "token-reviewer");
  const reviewerJwt = await api.createToken("openbao", "token-reviewer");
  await vault.request("POST", "sys/auth/kubernetes", { type: "kubernetes" });
  await vault.request("POST", "auth/kubernetes/config", {
    kubernetes_host: api.url,
    kubernetes_ca_cert: api.caCertPem,
    token_reviewer_jwt: reviewerJwt,
    // OpenBao runs outside any pod: there is no local service-account token or CA for it to fall back on.
    disable_local_ca_jwt: true,
  });
  return reviewerJwt;
}
