import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { expectedCode, newSecret } from "@totp-custody/testkit";
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

  /**
   * For each label, `write` and a deletion by the other replica, the deletion sent from 6 ms before to 6 ms after
   * the write in steps of 0.5 ms; then each label must serve codes from a key, or be absent with no key left behind
   * and free to register again.
   */
  async function raceDeletes(labels: string[], write: (label: string) => Promise<unknown>): Promise<string[]> {
    const [w, d] = [writer.client("telegram-bot"), deleter.client("telegram-bot")];
    for (const [i, label] of labels.entries()) {
      const offsetMs = ((i % 25) - 12) / 2;
      await Promise.all([
        sleep(Math.max(0, -offsetMs)).then(() => write(label)),
        sleep(Math.max(0, offsetMs)).then(() =>
          d.deleteSeed({ label, onBehalfOf: ALICE }).catch((err: { code: number }) => {
            // A deletion that came first finds nothing.
            expect(err.code).toBe(status.NOT_FOUND);
          }),
        ),
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
    return broken;
  }

  it("leave every label serving codes or absent (no metadata without a key, no key without metadata)", async () => {
    const w = writer.client("telegram-bot");
    const labels = Array.from({ length: LABELS }, (_, i) => `race-${i}`);
    for (const label of labels) await w.registerSeed({ label, onBehalfOf: ALICE, otpauthUri: otpauth() });
    const overwrite = (label: string) =>
      w.registerSeed({ label, onBehalfOf: ALICE, otpauthUri: otpauth(), overwrite: true });
    expect(await raceDeletes(labels, overwrite)).toEqual([]);
  });

  it("leave a first registration racing a deletion serving codes or absent, with no key left behind", async () => {
    const w = writer.client("telegram-bot");
    const labels = Array.from({ length: LABELS }, (_, i) => `new-${i}`);
    const register = (label: string) => w.registerSeed({ label, onBehalfOf: ALICE, otpauthUri: otpauth() });
    expect(await raceDeletes(labels, register)).toEqual([]);
  });

  it("leave a first registration racing an overwrite with one caller's key and that caller's metadata", async () => {
    const [w, o] = [writer.client("telegram-bot"), deleter.client("telegram-bot")];
    const labels = Array.from({ length: LABELS }, (_, i) => `first-${i}`);
    // The two callers' seeds differ in their digits, so metadata of one beside the key of the other shows.
    const seeds = new Map<string, { registered: string; overwritten: string }>();
    for (const [i, label] of labels.entries()) {
      const registered = newSecret();
      const overwritten = newSecret();
      seeds.set(label, { registered, overwritten });
      // The overwrite is sent from 6 ms before to 6 ms after the registration, in steps of 0.5 ms.
      const offsetMs = ((i % 25) - 12) / 2;
      await Promise.all([
        sleep(Math.max(0, -offsetMs)).then(() =>
          w
            .registerSeed({ label, onBehalfOf: ALICE, otpauthUri: `otpauth://totp/x?secret=${registered}&digits=6` })
            .catch((err: { code: number }) => expect(err.code).toBe(status.ALREADY_EXISTS)),
        ),
        sleep(Math.max(0, offsetMs)).then(() =>
          o.registerSeed({
            label,
            onBehalfOf: ALICE,
            otpauthUri: `otpauth://totp/x?secret=${overwritten}&digits=8`,
            overwrite: true,
          }),
        ),
      ]);
    }
    const broken: string[] = [];
    for (const label of labels) {
      // digits comes from the label's metadata, the code from the engine's key.
      const { code, digits } = await w.generateCode({ label, onBehalfOf: ALICE });
      const now = Date.now();
      const { registered, overwritten } = seeds.get(label) as { registered: string; overwritten: string };
      const secret = digits === 6 ? registered : overwritten;
      const fits = [-30_000, 0, 30_000].some((d) => expectedCode(secret, now + d, { digits }) === code);
      if (!fits) broken.push(`${label}: metadata of ${digits} digits beside the other caller's key (${code.length})`);
    }
    expect(broken).toEqual([]);
  });
});
