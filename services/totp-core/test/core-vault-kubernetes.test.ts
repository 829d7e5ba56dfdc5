import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  enableVaultKubernetesAuth,
  expectedCode,
  type KubeApiServer,
  newSecret,
  startKubeApiServer,
  startVault,
} from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CORE_VAULT_POLICY, type CoreFixture, startCoreFixture } from "./grpcHarness.js";

/*
 * The deployment's path end to end: totp-core, as its own process, logs in to a real OpenBao with a real
 * service-account token of a real kube-apiserver (checked there by TokenReview), then serves clients over mTLS
 * from the seeds it keeps in Vault. Only the kubelet is missing: the test writes the token file it would project.
 */
describe("totp-core on Vault with Kubernetes auth", () => {
  let kube: KubeApiServer;
  let fx: CoreFixture;
  let folder: string;
  let jwt: string;

  beforeAll(async () => {
    kube = await startKubeApiServer();
    folder = await mkdtemp(join(tmpdir(), "totp-core-k8s-"));
    const vault = await startVault();
    try {
      await kube.createServiceAccount("totp", "totp-core");
      await vault.writePolicy("totp-core", CORE_VAULT_POLICY);
      await enableVaultKubernetesAuth(vault, kube);
      await vault.request("POST", "auth/kubernetes/role/totp-core", {
        bound_service_account_names: ["totp-core"],
        bound_service_account_namespaces: ["totp"],
        token_policies: ["totp-core"],
        token_ttl: "1h",
      });

      jwt = await kube.createToken("totp", "totp-core");
      const jwtFile = join(folder, "token");
      await writeFile(jwtFile, jwt, { mode: 0o600 });
      fx = await startCoreFixture(
        "vault-kv",
        // No cache: the code below is read from Vault with the token the Kubernetes login gave.
        { TOTP_CACHE_TTL_MS: "0" },
        {
          vault,
          vaultAuth: {
            VAULT_AUTH_METHOD: "kubernetes",
            VAULT_K8S_ROLE: "totp-core",
            VAULT_K8S_JWT_FILE: jwtFile,
          },
        },
      );
    } catch (error) {
      // The fixture owns the Vault server once started; before that, it is ours to stop.
      if (!fx) await vault.stop();
      throw error;
    }
  });
  afterAll(async () => {
    await fx?.close();
    await kube?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it("registers a seed and generates its code over mTLS, after logging in with the service-account token", async () => {
    const admin = fx.client("admin");
    const secret = newSecret();
    await admin.registerSeed({ label: "k8s-login", otpauthUri: `otpauth://totp/x?secret=${secret}` });
    const answer = await admin.generateCode({ label: "k8s-login" });
    expect(answer.code).toBe(expectedCode(secret, answer.serverTime?.getTime() ?? 0));

    const output = fx.core.process.stdout + fx.core.process.stderr;
    const logins = output
      .split("\n")
      .filter((line) => line.includes('"logged in to Vault"'))
      .map((line) => JSON.parse(line) as { auth?: string });
    expect(logins).toEqual([expect.objectContaining({ auth: "kubernetes" })]);
    // Neither the service-account token nor the seed reaches the service's output.
    expect(output).not.toContain(jwt);
    expect(output).not.toContain(secret);
  });
});
