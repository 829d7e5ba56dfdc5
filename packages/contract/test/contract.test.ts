import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));
const buf = join(root, "node_modules/.bin/buf");
/** The output folders of buf.gen.yaml: the public contract, and Google Authenticator's export format for totp-core. */
const generated = ["packages/contract/src/gen", "services/totp-core/src/gen"];

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path, "utf8"));
  }
  return files;
}

describe("the totp.v1 contract", () => {
  const temporary: string[] = [];
  afterAll(async () => {
    for (const dir of temporary) await rm(dir, { recursive: true, force: true });
  });

  it("passes buf lint", async () => {
    const { stdout, stderr } = await run(buf, ["lint"], { cwd: root });
    expect(stdout + stderr).toBe("");
  });

  it("has no breaking change against the first published version", async () => {
    const { stdout } = await run("git", ["log", "--diff-filter=A", "--format=%H", "--", "proto/totp/v1/totp.proto"], {
      cwd: root,
    });
    const first = stdout.trim().split("\n").pop();
    expect(first).toMatch(/^[0-9a-f]{40}$/);
    await run(buf, ["breaking", "--against", `.git#ref=${first}`], { cwd: root });
  });

  it("matches what buf generate makes now: the checked-in code is current", async () => {
    const out = await mkdtemp(join(tmpdir(), "contract-gen-"));
    temporary.push(out);
    await run(buf, ["generate", "--output", out], { cwd: root });
    for (const dir of generated) {
      const fresh = await filesUnder(join(out, dir));
      const checkedIn = await filesUnder(join(root, dir));
      expect([...fresh.keys()].sort(), dir).toEqual([...checkedIn.keys()].sort());
      for (const [path, text] of fresh) expect(checkedIn.get(path), join(dir, path)).toBe(text);
    }
  });
});
