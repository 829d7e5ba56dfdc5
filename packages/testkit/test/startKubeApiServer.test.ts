import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { access, readdir, readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeApiError, type KubeApiServer, startKubeApiServer } from "../src/index.js";

/** The same header and claims as `token`, signed by a key the API server has never seen. */
function forge(token: string): string {
  const [header, claims] = token.split(".");
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signature = sign("sha256", Buffer.from(`${header}.${claims}`), privateKey).toString("base64url");
  return `${header}.${claims}.${signature}`;
}

/** Polls until `check` holds; the bound only stops a hang, it times nothing. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: still not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;

describe("startKubeApiServer (real kube-apiserver on real etcd)", () => {
  let kube: KubeApiServer;
  beforeAll(async () => {
    kube = await startKubeApiServer();
  });
  afterAll(async () => {
    await kube?.stop();
  });

  it("serves the Kubernetes API over TLS on a loopback port, to its admin token only", async () => {
    expect(kube.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(kube.caCertPem).toContain("BEGIN CERTIFICATE");
    const version = await kube.request<{ gitVersion: string }>("GET", "/version");
    expect(version.gitVersion).toMatch(/^v1\./);
    const denied = await kube.request("GET", "/api/v1/namespaces", undefined, { token: "not-a-token" }).catch((e) => e);
    expect(denied).toBeInstanceOf(KubeApiError);
    expect((denied as KubeApiError).status).toBe(401);
  });

  it("issues signed service-account tokens that TokenReview accepts, and refuses garbage and forgeries", async () => {
    const { uid } = await kube.createServiceAccount("apps", "worker");
    const token = await kube.createToken("apps", "worker");
    expect(claimsOf(token)).toMatchObject({ sub: "system:serviceaccount:apps:worker" });

    const accepted = await kube.reviewToken(token);
    expect(accepted.authenticated).toBe(true);
    expect(accepted.user).toMatchObject({ username: "system:serviceaccount:apps:worker" });
    expect(accepted.user?.groups).toContain("system:serviceaccounts:apps");
    expect(JSON.stringify(accepted.user)).toContain(uid);

    expect((await kube.reviewToken(randomBytes(32).toString("base64url"))).authenticated).toBeFalsy();
    // Same claims, another key: only a real signature check tells this one apart.
    expect((await kube.reviewToken(forge(token))).authenticated).toBeFalsy();
    // Audiences are checked too: the token was issued for the API server, not for "vault".
    expect((await kube.reviewToken(token, ["vault"])).authenticated).toBeFalsy();
    const forVault = await kube.createToken("apps", "worker", { audiences: ["vault"], expirationSeconds: 600 });
    expect((await kube.reviewToken(forVault, ["vault"])).authenticated).toBe(true);
  });

  it("refuses the token of a deleted ServiceAccount, even when one of the same name is created again", async () => {
    await kube.createServiceAccount("apps", "retired");
    const reviewed = await kube.createToken("apps", "retired");
    const unreviewed = await kube.createToken("apps", "retired");
    expect((await kube.reviewToken(reviewed)).authenticated).toBe(true);
    await kube.deleteServiceAccount("apps", "retired");
    // The API server remembers a token it accepted for 10 s, so the one just reviewed would still pass for that
    // long; the other, never reviewed, is checked afresh against the service account. The authenticator reads
    // accounts from a watch-filled cache, which learns of the deletion shortly after the DELETE answers.
    await until(async () => !(await kube.reviewToken(unreviewed)).authenticated, "the deleted account's token refused");
    await kube.createServiceAccount("apps", "retired");
    // A new account of the same name has a new uid, which the token does not carry.
    expect((await kube.reviewToken(unreviewed)).authenticated).toBeFalsy();
  });

  it("enforces RBAC: a service account may review tokens only once bound to system:auth-delegator", async () => {
    await kube.createServiceAccount("vault", "reviewer");
    const reviewer = await kube.createToken("vault", "reviewer");
    const review = (token: string) =>
      kube.request<{ status: { authenticated?: boolean } }>(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
        { token: reviewer },
      );
    const refused = await review(reviewer).catch((e) => e);
    expect((refused as KubeApiError).status).toBe(403);
    await kube.bindClusterRole("system:auth-delegator", "vault", "reviewer");
    // No waiting here: bindClusterRole answers once the authorizer applies the binding.
    expect((await review(reviewer)).status.authenticated).toBe(true);
  });

  // Last, as it ends the server the other tests share (afterAll's stop() is then the second call).
  it("stop() ends both etcd and kube-apiserver and removes the folder", async () => {
    await kube.stop();
    await expect(access(kube.dir)).rejects.toThrow(/ENOENT/);
    // Both were started with paths inside the folder on their command lines.
    const left: string[] = [];
    for (const pid of await readdir("/proc")) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (/^\d+$/.test(pid) && cmdline.includes(kube.dir)) left.push(cmdline.replaceAll("\0", " "));
    }
    expect(left).toEqual([]);
  });
});
