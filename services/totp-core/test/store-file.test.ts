import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeWindow } from "../src/otp/codeWindow.js";
import { createSeedStore } from "../src/store/createSeedStore.js";
import { FileStore } from "../src/store/FileStore.js";
import { newSeed, personal, storeContract } from "./store-contract.js";

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "totp-file-store-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const newKey = () => randomBytes(32);
const newPath = () => join(folder, `seeds-${randomBytes(4).toString("hex")}.enc`);
const record = (seed = newSeed()) => ({ ...seed, createdAt: new Date(), registeredBy: "telegram:1" });

storeContract("file", () => createSeedStore({ kind: "file", path: newPath(), key: newKey() }), {
  currentCodeOnly: false,
  steam: true,
});

describe("FileStore", () => {
  it("keeps records across a reopen with the same key, in a file only its owner can read", async () => {
    const path = newPath();
    const key = newKey();
    const ref = personal("github");
    const seed = newSeed();
    const first = await FileStore.open(path, key);
    await first.write(ref, record(seed), false);
    await first.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    // No seed in the clear on disk.
    expect((await readFile(path)).includes(seed.secret)).toBe(false);
    const reopened = await createSeedStore({ kind: "file", path, key });
    const at = Date.now();
    expect((await reopened.codes(ref, at))?.window).toEqual(codeWindow(seed, at));
    await reopened.close();
  });

  it("refuses to open with a wrong key, naming the file", async () => {
    const path = newPath();
    await (await FileStore.open(path, newKey())).close();
    await expect(FileStore.open(path, newKey())).rejects.toThrow(
      `TOTP_FILE_KEY does not decrypt ${path}: wrong key or corrupted file`,
    );
  });

  it("refuses a file whose content was changed", async () => {
    const path = newPath();
    const key = newKey();
    const store = await FileStore.open(path, key);
    await store.write(personal("x"), record(), false);
    const bytes = await readFile(path);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] as number) ^ 1;
    await writeFile(path, bytes);
    await expect(FileStore.open(path, key)).rejects.toThrow(
      `TOTP_FILE_KEY does not decrypt ${path}: the key matches but the content fails authentication (corrupted file)`,
    );
  });

  it("refuses a file that is not a seed file, and a key of the wrong size", async () => {
    const path = newPath();
    await writeFile(path, "hello, I am not encrypted at all, but long enough to have a header");
    await expect(FileStore.open(path, newKey())).rejects.toThrow(`${path} is not a totp-custody seed file`);
    await expect(FileStore.open(newPath(), randomBytes(16))).rejects.toThrow("must be 32 bytes");
  });

  it("writes a new IV each time: the same content never encrypts alike", async () => {
    const path = newPath();
    const store = await FileStore.open(path, newKey());
    const ref = personal("x");
    await store.write(ref, record(), false);
    const first = await readFile(path);
    await store.remove(ref);
    await store.write(ref, record(), false);
    expect((await readFile(path)).subarray(17, 29).equals(first.subarray(17, 29))).toBe(false);
  });

  it("answers UNAVAILABLE and keeps memory unchanged when a write fails", async () => {
    const sub = join(folder, `gone-${randomBytes(4).toString("hex")}`);
    await mkdir(sub);
    const path = join(sub, "seeds.enc");
    const store = await FileStore.open(path, newKey());
    await rm(sub, { recursive: true });
    const ref = personal("x");
    await expect(store.write(ref, record(), false)).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: "seed store unavailable",
    });
    expect(await store.read(ref)).toBeUndefined();
  });
});

/*
 * The kill test: a child process registers labels one after the other (each write is the whole file, a few
 * hundred kilobytes, so a kill often lands mid-write) and prints each one it completed; it is SIGKILLed at a
 * random moment. The file must then open with the key and hold exactly the labels 0..n-1, where n is the number
 * the child reported or one more (a write that finished its rename just before the kill).
 */
describe("FileStore under SIGKILL", () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const built = join(here, "..", "dist", "store", "FileStore.js");
  const ROUNDS = 20;

  const writer = `
    const { FileStore } = await import(${JSON.stringify(pathToFileURL(built).href)});
    const [path, keyHex, start] = process.argv.slice(1);
    const store = await FileStore.open(path, Buffer.from(keyHex, "hex"));
    const owner = { shared: false, principal: "telegram:7" };
    const secret = Buffer.alloc(20, 1);
    for (let i = Number(start); ; i++) {
      const record = { secret, algorithm: "SHA1", digits: 6, period: 30, encoding: "numeric", issuer: "i".repeat(300),
        account: "a".repeat(300), createdAt: new Date(), registeredBy: "telegram:7" };
      await store.write({ label: "l-" + i, owner }, record, false);
      process.stdout.write(i + "\\n");
    }
  `;

  function runWriter(path: string, key: Buffer, start: number): { child: ChildProcess; acked: () => number } {
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", writer, path, key.toString("hex"), `${start}`],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let last = start - 1;
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) last = Number(line);
    });
    return { child, acked: () => last };
  }

  it(`keeps the last completed write when the writer is killed mid-write (${ROUNDS} rounds)`, async () => {
    expect(existsSync(built), `build totp-core first (npx tsc -b): ${built} is missing`).toBe(true);
    const path = newPath();
    const key = newKey();
    const owner = { shared: false as const, principal: "telegram:7" };
    let count = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { child, acked } = runWriter(path, key, count);
      // Let it write a random number of times first; the kill lands wherever the writer then is.
      const target = count + randomInt(1, 15);
      await new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => {
          if (acked() >= target) {
            clearInterval(poll);
            resolve();
          }
        }, 1);
        child.once("exit", (code) => {
          clearInterval(poll);
          reject(new Error(`writer exited early with ${code}`));
        });
      });
      child.removeAllListeners("exit");
      // Past the acknowledged write, somewhere in the next one.
      await sleep(randomInt(0, 6));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      const reported = acked() + 1;

      const store = await FileStore.open(path, key);
      const labels = (await store.labels(owner)).names;
      count = labels.length;
      expect(count === reported || count === reported + 1, `${count} labels after ${reported} reported`).toBe(true);
      expect(new Set(labels)).toEqual(new Set(Array.from({ length: count }, (_, i) => `l-${i}`)));
      await store.close();
      // Opening removed what the killed writer left half-written.
      expect((await readdir(dirname(path))).filter((n) => n.includes(".tmp-"))).toEqual([]);
    }
    expect(count).toBeGreaterThan(ROUNDS);
  });
});
