import { describe, expect, it } from "vitest";
import { renderNotes, VALUE_SETS } from "./renderChart.js";

/** The lines of the notes' WARNINGS section, without their "- "; none when there is no such section. */
async function warnings(files: readonly string[], sets: readonly string[] = []): Promise<string[]> {
  const notes = await renderNotes(files, sets);
  expect(notes).toContain("is installed as release");
  const at = notes.indexOf("\nWARNINGS\n");
  if (at < 0) return [];
  return notes
    .slice(at + "\nWARNINGS\n".length)
    .split("\n")
    .filter((line) => line.startsWith("- "))
    .map((line) => line.slice(2));
}

// Every choice made as NOTES.txt wants it: both bots on webhooks, three core replicas with Redis, a keyed audit
// chain, the Zulip server's own address.
const SECURE = VALUE_SETS["webhooks, 3 replicas each"];

const WARNS_OF = {
  polling: "The Telegram bot long-polls",
  eventQueue: "The Zulip bot reads the event queue",
  oneReplica: "totp-core runs one replica",
  noPdb: "core.pdb.enabled is false",
  noRedis: "Several totp-core replicas without Redis",
  noAuditKey: "has no key (core.audit.keySecret)",
  reflection: "gRPC reflection is on",
  noNetworkPolicy: "networkPolicy.enabled is false",
  vaultUnreachable: "networkPolicy.vault names no CIDR and no selector",
  zulipAnywhere: "networkPolicy.zulipApi.cidrs has 0.0.0.0/0",
  longCertificates: "Service certificates live 100 hours",
  existingSecrets: "Certificates come from existing Secrets",
  approle: "Vault AppRole auth",
  plainVault: "vault.address is not https",
  nodePort: "totp-core's Service is a NodePort",
} as const;

/** The warnings that name a choice weakening security, which the defaults must not make. */
const INSECURE: (keyof typeof WARNS_OF)[] = [
  "reflection",
  "noNetworkPolicy",
  "vaultUnreachable",
  "longCertificates",
  "existingSecrets",
  "approle",
  "plainVault",
  "nodePort",
];

describe("NOTES.txt", () => {
  it("warns of nothing when every choice is the secure, replicated one", async () => {
    expect(await warnings(SECURE)).toEqual([]);
  });

  it("warns with the defaults only of their single replicas, the shared-nothing rate limit and what to set", async () => {
    const found = await warnings([]);
    const expected = ["polling", "eventQueue", "noRedis", "noAuditKey", "zulipAnywhere"] as const;
    expect(found).toHaveLength(expected.length);
    for (const key of expected)
      expect(
        found.some((w) => w.includes(WARNS_OF[key])),
        key,
      ).toBe(true);
    for (const key of INSECURE)
      expect(
        found.some((w) => w.includes(WARNS_OF[key])),
        key,
      ).toBe(false);
  });

  it.each([
    ["polling", ["telegramBot.mode=polling"]],
    ["eventQueue", ["zulipBot.mode=eventQueue"]],
    ["oneReplica", ["core.replicas=1"]],
    ["noPdb", ["core.pdb.enabled=false"]],
    ["noRedis", ["redis.urlSecret.name="]],
    ["noAuditKey", ["core.audit.keySecret.name="]],
    ["reflection", ["core.reflection=true"]],
    ["noNetworkPolicy", ["networkPolicy.enabled=false"]],
    ["vaultUnreachable", ["networkPolicy.vault.namespaceSelector=null", "networkPolicy.vault.podSelector=null"]],
    ["zulipAnywhere", ["networkPolicy.zulipApi.cidrs={0.0.0.0/0}"]],
    ["longCertificates", ["tls.certManager.durationHours=100"]],
    // The value set of existing Secrets: an internal client needs its own Secret too.
    ["existingSecrets", [], VALUE_SETS["existing Secrets"]],
    [
      "approle",
      [
        "vault.auth.method=approle",
        "vault.auth.approle.roleId=6a1f6c1e",
        "vault.auth.approle.secretIdSecret.name=totp-core-approle",
      ],
    ],
    ["plainVault", ["vault.address=http://vault.vault.svc:8200"]],
    ["nodePort", ["core.service.type=NodePort"]],
  ] as [keyof typeof WARNS_OF, string[], string[]?][])(
    "warns of %s, and of nothing else, when that one choice is made",
    async (key, sets, files = []) => {
      const found = await warnings([...SECURE, ...files], sets);
      expect(found).toHaveLength(1);
      expect(found[0]).toContain(WARNS_OF[key]);
    },
  );
});
