import { createTotpClient, type TotpClient } from "@totp-custody/client";
import { newSecret, type RunningCore, startTotpCore, startVault } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, type StoreKind, startCoreFixture, TEST_POLICY } from "./grpcHarness.js";

const bot = "telegram-bot";
const uri = (issuer: string, account: string) =>
  `otpauth://totp/${issuer}:${account}?secret=${newSecret()}&issuer=${issuer}`;
const labelNames = (count: number, prefix = "l") =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);

/** Registers `labels` for `principal`, a few calls at a time (the store sees concurrent writers, as in production). */
async function registerAll(client: TotpClient, principal: string, labels: readonly string[]): Promise<void> {
  const inFlight = 16;
  for (let i = 0; i < labels.length; i += inFlight) {
    await Promise.all(
      labels
        .slice(i, i + inFlight)
        .map((label) =>
          client.registerSeed({ label, onBehalfOf: principal, otpauthUri: uri("Issuer", `${label}@example.com`) }),
        ),
    );
  }
}

/**
 * Pages through `principal`'s listing `pageSize` labels at a time, calling `clients` in turn (so a token one process
 * issued goes to the next), and `betweenPages` with each page before asking for the next one.
 */
async function pageThrough(
  clients: readonly TotpClient[],
  principal: string,
  pageSize: number,
  betweenPages: (labels: string[]) => Promise<void> = async () => {},
): Promise<string[]> {
  const seen: string[] = [];
  let pageToken = "";
  for (let page = 0; ; page++) {
    const client = clients[page % clients.length] as TotpClient;
    const answer = await client.listLabels({ onBehalfOf: principal, pageSize, pageToken });
    const labels = answer.labels.map((l) => l.label);
    seen.push(...labels);
    if (answer.nextPageToken === "") return seen;
    // A page is never empty unless the whole listing is: a token always leads somewhere.
    expect(labels.length).toBeGreaterThan(0);
    pageToken = answer.nextPageToken;
    await betweenPages(labels);
  }
}

describe.each<StoreKind>(["file", "vault-kv", "vault-totp"])("ListLabels paging on the %s store", (kind) => {
  let fx: CoreFixture;
  beforeAll(async () => {
    fx = await startCoreFixture(kind);
  });
  afterAll(async () => {
    await fx?.close();
  });

  it("returns every label alive during the whole paging exactly once, while seen labels are deleted", async () => {
    const principal = "telegram:500001";
    const client = fx.client(bot);
    const labels = labelNames(200);
    await registerAll(client, principal, labels);
    const deleted = new Set<string>();
    const seen = await pageThrough([client], principal, 7, async (page) => {
      // Three labels the caller has already seen, as a user tidying up while scrolling would.
      for (const label of page.slice(0, 3)) {
        await client.deleteSeed({ label, onBehalfOf: principal });
        deleted.add(label);
      }
    });
    const alive = labels.filter((label) => !deleted.has(label));
    const missed = alive.filter((label) => !seen.includes(label));
    console.log(`${kind}: 200 labels, page 7, 3 seen labels deleted per page: ${missed.length} alive labels missed`);
    expect(missed).toEqual([]);
    expect(seen).toEqual([...new Set(seen)]);
    expect(seen).toEqual([...seen].sort());
  });

  it("goes on from the personal labels to the shared ones the caller may read, without an empty page", async () => {
    // telegram:111 is in the ops group, which reads the shared label team-aws.
    const principal = "telegram:111";
    const client = fx.client(bot);
    await fx.client("admin").registerSeed({ label: "team-aws", otpauthUri: uri("AWS", "root") });
    await registerAll(client, principal, labelNames(5, "mine-"));
    const first = await client.listLabels({ onBehalfOf: principal, pageSize: 5 });
    expect(first.labels.map((l) => [l.label, l.shared])).toEqual(labelNames(5, "mine-").map((l) => [l, false]));
    const second = await client.listLabels({ onBehalfOf: principal, pageSize: 5, pageToken: first.nextPageToken });
    expect(second.labels.map((l) => [l.label, l.shared, l.issuer, l.account])).toEqual([
      ["team-aws", true, "AWS", "root"],
    ]);
    expect(second.nextPageToken).toBe("");
    expect(await pageThrough([client], principal, 2)).toEqual([...labelNames(5, "mine-"), "team-aws"]);
  });
});

describe("ListLabels page tokens across two totp-core processes on one OpenBao", () => {
  let fx: CoreFixture;
  let other: RunningCore;
  let otherClient: TotpClient;
  beforeAll(async () => {
    fx = await startCoreFixture("vault-kv");
    other = await startTotpCore({
      pki: fx.pki,
      policy: TEST_POLICY,
      env: {
        TOTP_STORE: "vault-kv",
        VAULT_ADDR: fx.vault?.addr,
        VAULT_TOKEN: fx.vault?.token,
        TOTP_RATE_REQUESTS_PER_PRINCIPAL: "1000000",
        TOTP_RATE_DELETES_PER_PRINCIPAL: "1000000",
      },
    });
    otherClient = createTotpClient({ ...other.clientOptions(bot), maxAttempts: 1 });
  });
  afterAll(async () => {
    otherClient?.close();
    await other?.stop();
    await fx?.close();
  });

  it("accepts on one process the tokens the other issued, and returns each label once", async () => {
    const principal = "telegram:500002";
    const labels = labelNames(20);
    await registerAll(fx.client(bot), principal, labels);
    expect(await pageThrough([fx.client(bot), otherClient], principal, 3)).toEqual(labels);
  });
});

describe("ListLabels reads on the vault-kv store (counted in OpenBao's audit log)", () => {
  let fx: CoreFixture;
  const principal = "telegram:500003";
  const seedPaths = `secret/data/totp/users/telegram/500003/`;
  const metadataPaths = `secret/metadata/totp/users/telegram/500003/`;
  beforeAll(async () => {
    const vault = await startVault({ auditLog: true });
    fx = await startCoreFixture("vault-kv", {}, { vault });
    await registerAll(fx.client(bot), principal, labelNames(1200));
  });
  afterAll(async () => {
    await fx?.close();
  });

  const audited = () => fx.vault as Awaited<ReturnType<typeof startVault<{ auditLog: true }>>>;
  const count = (prefix: string, operation: string) =>
    audited().countRequests((e) => e.request?.operation === operation && (e.request.path ?? "").startsWith(prefix));

  it("answers a page of 7 out of 1,200 labels without reading a seed, with metadata reads for the page only", async () => {
    const before = {
      seeds: await count(seedPaths, "read"),
      metadata: await count(metadataPaths, "read"),
      lists: await count(metadataPaths, "list"),
    };
    const started = performance.now();
    const page = await fx.client(bot).listLabels({ onBehalfOf: principal, pageSize: 7 });
    const ms = performance.now() - started;
    const reads = {
      seeds: (await count(seedPaths, "read")) - before.seeds,
      metadata: (await count(metadataPaths, "read")) - before.metadata,
      lists: (await count(metadataPaths, "list")) - before.lists,
    };
    console.log(
      `ListLabels page of 7 with 1,200 labels: ${reads.seeds} seed reads, ${reads.metadata} metadata reads, ` +
        `${reads.lists} lists, ${Math.round(ms)} ms`,
    );
    expect(page.labels.map((l) => l.label)).toEqual(labelNames(7));
    expect(page.labels[0]).toMatchObject({ issuer: "Issuer", account: "l0000@example.com", owner: principal });
    expect(reads.seeds).toBe(0);
    // The page and one more label, which tells whether another page follows.
    expect(reads.metadata).toBeLessThanOrEqual(8);
    expect(reads.lists).toBe(1);
  });
});
