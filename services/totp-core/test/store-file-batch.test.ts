import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createSeedStore } from "../src/store/createSeedStore.js";
import { newSeed, personal } from "./store-contract.js";

// Every save ends with one rename of its temporary file over the store's file: counting renames counts saves.
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  return { ...actual, rename: vi.fn(actual.rename) };
});

let folder: string;
beforeAll(async () => {
  folder = await fs.mkdtemp(join(tmpdir(), "totp-file-batch-"));
});
afterAll(async () => {
  await fs.rm(folder, { recursive: true, force: true });
});

describe("FileStore saves", () => {
  it("writes the changes asked for together (an import's entries) in one save, each with its own outcome", async () => {
    const store = await createSeedStore({ kind: "file", path: join(folder, "seeds.enc"), key: randomBytes(32) });
    const principal = "telegram:77";
    await store.put(personal("taken", principal), newSeed(), principal, false);
    const renames = vi.mocked(fs.rename);
    renames.mockClear();
    const labels = ["taken", ...Array.from({ length: 99 }, (_, i) => `entry-${i}`)];
    const outcomes = await Promise.allSettled(
      labels.map((label) => store.put(personal(label, principal), newSeed(), principal, false)),
    );
    expect(renames).toHaveBeenCalledTimes(1);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(99);
    expect(outcomes[0]).toMatchObject({ status: "rejected", reason: { code: "ALREADY_EXISTS" } });
    expect((await store.page({ shared: false, principal }, { after: "", limit: 200 })).labels).toHaveLength(100);
    await store.close();
  });
});
