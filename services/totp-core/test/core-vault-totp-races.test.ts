import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { newSecret } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CoreFixture, startCoreFixture } from "./grpcHarness.js";

const LABELS = 120;
const ALICE = "telegram:3001";
const otpauth = () => `otpauth://totp/x?secret=${newSecret()}`;

describe("two vault-totp replicas, one overwriting and one deleting the same labels at once", () => {
  let writer: CoreFixture;
  let deleter: CoreFixture;
  beforeAll(async () => {
    writer = await startCoreFixture("vault-totp");
    deleter = await startCoreFixture("vault-totp", {}, { vault: writer.vault });
  });
  afterAll(async () => {
    await deleter?.close();
    await writer?.close();
  });

  it("leave every label serving codes or absent (no metadata without a key, no key without metadata)", async () => {
    const [w, d] = [writer.client("telegram-bot"), deleter.client("telegram-bot")];
    const labels = Array.from({ length: LABELS }, (_, i) => `race-${i}`);
    for (const label of labels) await w.registerSeed({ label, onBehalfOf: ALICE, otpauthUri: otpauth() });
    for (const [i, label] of labels.entries()) {
      // The delete is sent from 6 ms before to 6 ms after the overwrite, in steps of 0.5 ms.
      const offsetMs = ((i % 25) - 12) / 2;
      await Promise.all([
        sleep(Math.max(0, -offsetMs)).then(() =>
          w.registerSeed({ label, onBehalfOf: ALICE, otpauthUri: otpauth(), overwrite: true }),
        ),
        sleep(Math.max(0, offsetMs)).then(() => d.deleteSeed({ label, onBehalfOf: ALICE })),
      ]);
    }
    const vault = writer.vault;
    if (!vault) throw new Error("the fixture has no Vault");
    const keys = new Set((await vault.request<{ data: { keys: string[] } }>("LIST", "totp/keys")).data.keys);
    const broken: string[] = [];
    for (const label of labels) {
      const key = keys.has(`${label}@3001@telegram`);
      const code = await w.generateCode({ label, onBehalfOf: ALICE }).then(
        () => status.OK,
        (err: { code: number }) => err.code,
      );
      if (code === status.OK) {
        if (!key) broken.push(`${label}: codes without a key`);
        continue;
      }
      // Absent: no key left behind, and the label can be registered again.
      if (key) broken.push(`${label}: a key without a label`);
      const again = await w.registerSeed({ label, onBehalfOf: ALICE, otpauthUri: otpauth() }).then(
        () => "registered",
        (err: { message: string }) => err.message,
      );
      if (again !== "registered") broken.push(`${label}: NOT_FOUND for codes, yet ${again}`);
    }
    expect(broken).toEqual([]);
  });
});
