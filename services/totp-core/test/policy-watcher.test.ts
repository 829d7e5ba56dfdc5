import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Policy } from "../src/policy/Policy.js";
import { PolicyError } from "../src/policy/PolicyError.js";
import { PolicyWatcher, type PolicyWatcherOptions } from "../src/policy/PolicyWatcher.js";

const policyWith = (label: string): string => `shared:\n  ${label}: { readers: [telegram:1] }\n`;
const labelsOf = (policy: Policy): readonly string[] => policy.sharedLabels;

// Long enough that only fs.watch can explain a prompt reload; short enough for tests that rely on the poll.
const NO_POLL = 3_600_000;
const FAST_POLL = 50;

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const step of cleanup) step();
  cleanup = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "policy-watcher-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(options: PolicyWatcherOptions): PolicyWatcher {
  const watcher = new PolicyWatcher(options);
  cleanup.unshift(() => watcher.close());
  return watcher;
}

/** A Kubernetes ConfigMap mount: policy.yaml -> ..data/policy.yaml, ..data -> a timestamped directory. */
function configMap(dir: string, yaml: string): { file: string; update: (yaml: string) => void } {
  let version = 0;
  const publish = (text: string): void => {
    const target = `..2024_01_01_00_00_0${version++}`;
    mkdirSync(join(dir, target));
    writeFileSync(join(dir, target, "policy.yaml"), text);
    // The kubelet's atomic swap: a new symlink renamed over ..data.
    symlinkSync(target, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
  };
  publish(yaml);
  symlinkSync("..data/policy.yaml", join(dir, "policy.yaml"));
  return {
    file: join(dir, "policy.yaml"),
    update: (text) => {
      const old = `..2024_01_01_00_00_0${version - 1}`;
      publish(text);
      rmSync(join(dir, old), { recursive: true });
    },
  };
}

describe("PolicyWatcher", () => {
  it("loads the file at start", () => {
    const file = join(tempDir(), "policy.yaml");
    writeFileSync(file, policyWith("aws-root"));
    expect(labelsOf(start({ file }).current())).toEqual(["aws-root"]);
  });

  it("refuses to start without the file, naming it", () => {
    const file = join(tempDir(), "missing.yaml");
    expect(() => start({ file })).toThrow(PolicyError);
    expect(() => start({ file })).toThrow(`${file}: cannot read the policy file (ENOENT)`);
  });

  it("refuses to start with an invalid file, naming the file and the key", () => {
    const file = join(tempDir(), "policy.yaml");
    writeFileSync(file, "clients:\n  spiffe://x/y: { actsFor: slack }\n");
    expect(() => start({ file })).toThrow(
      `${file}: invalid policy: clients["spiffe://x/y"].actsFor: expected one of telegram, zulip`,
    );
  });

  it("applies a changed file as soon as fs.watch reports it", async () => {
    const file = join(tempDir(), "policy.yaml");
    writeFileSync(file, policyWith("one"));
    const onReload = vi.fn();
    const watcher = start({ file, pollIntervalMs: NO_POLL, onReload });
    writeFileSync(file, policyWith("two"));
    await vi.waitFor(() => expect(labelsOf(watcher.current())).toEqual(["two"]));
    expect(onReload).toHaveBeenCalledExactlyOnceWith(watcher.current());
  });

  it("picks up a Kubernetes ..data symlink swap", async () => {
    const map = configMap(tempDir(), policyWith("one"));
    const onReload = vi.fn();
    const watcher = start({ file: map.file, pollIntervalMs: NO_POLL, onReload });
    expect(labelsOf(watcher.current())).toEqual(["one"]);
    map.update(policyWith("two"));
    await vi.waitFor(() => expect(labelsOf(watcher.current())).toEqual(["two"]));
    map.update(policyWith("three"));
    await vi.waitFor(() => expect(labelsOf(watcher.current())).toEqual(["three"]));
    expect(onReload).toHaveBeenCalledTimes(2);
  });

  it("polls for changes fs.watch on the directory cannot see (a symlink into another directory)", async () => {
    const real = join(tempDir(), "policy.yaml");
    writeFileSync(real, policyWith("one"));
    const file = join(tempDir(), "policy.yaml");
    symlinkSync(real, file);
    const watcher = start({ file, pollIntervalMs: FAST_POLL });
    writeFileSync(real, policyWith("two"));
    await vi.waitFor(() => expect(labelsOf(watcher.current())).toEqual(["two"]));
  });

  it("keeps the old policy when the new file is invalid, reports it once, and applies the next good one", async () => {
    const file = join(tempDir(), "policy.yaml");
    writeFileSync(file, policyWith("one"));
    const onError = vi.fn();
    const onReload = vi.fn();
    const watcher = start({ file, pollIntervalMs: FAST_POLL, onError, onReload });
    const before = watcher.current();

    writeFileSync(file, "shared:\n  BAD: {}\n");
    await vi.waitFor(() => expect(onError).toHaveBeenCalled());
    const err = onError.mock.calls[0]?.[0];
    expect(err).toBeInstanceOf(PolicyError);
    expect(err.message).toContain(`${file}: invalid policy: shared.BAD: a shared label name is`);
    expect(watcher.current()).toBe(before);
    await sleep(FAST_POLL * 5);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onReload).not.toHaveBeenCalled();

    writeFileSync(file, policyWith("two"));
    await vi.waitFor(() => expect(labelsOf(watcher.current())).toEqual(["two"]));
    expect(onReload).toHaveBeenCalledOnce();
  });

  it("never applies the empty file a writer leaves between truncating and writing", async () => {
    const file = join(tempDir(), "policy.yaml");
    writeFileSync(file, policyWith("one"));
    const onReload = vi.fn();
    const watcher = start({ file, pollIntervalMs: FAST_POLL, settleMs: 1_000, onReload });
    // An empty file is a valid policy that admits no one: a slow writer's first step, read by several polls.
    writeFileSync(file, "");
    await sleep(FAST_POLL * 4);
    expect(labelsOf(watcher.current())).toEqual(["one"]);
    writeFileSync(file, policyWith("two"));
    await vi.waitFor(() => expect(labelsOf(watcher.current())).toEqual(["two"]), { timeout: 5_000 });
    expect(onReload).toHaveBeenCalledOnce();
  });

  it("keeps the old policy while the file is missing, and reports that once", async () => {
    const file = join(tempDir(), "policy.yaml");
    writeFileSync(file, policyWith("one"));
    const onError = vi.fn();
    const watcher = start({ file, pollIntervalMs: FAST_POLL, onError });
    unlinkSync(file);
    await vi.waitFor(() => expect(onError).toHaveBeenCalled());
    expect(onError.mock.calls[0]?.[0].message).toBe(`${file}: cannot read the policy file (ENOENT)`);
    await sleep(FAST_POLL * 5);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(labelsOf(watcher.current())).toEqual(["one"]);
  });

  it("does not reload when the content is rewritten unchanged", async () => {
    const file = join(tempDir(), "policy.yaml");
    writeFileSync(file, policyWith("one"));
    const onReload = vi.fn();
    const watcher = start({ file, pollIntervalMs: FAST_POLL, onReload });
    const before = watcher.current();
    writeFileSync(file, policyWith("one"));
    await sleep(FAST_POLL * 5);
    expect(onReload).not.toHaveBeenCalled();
    expect(watcher.current()).toBe(before);
  });

  it("stops following the file once closed", async () => {
    const file = join(tempDir(), "policy.yaml");
    writeFileSync(file, policyWith("one"));
    const onReload = vi.fn();
    const watcher = start({ file, pollIntervalMs: FAST_POLL, onReload });
    watcher.close();
    writeFileSync(file, policyWith("two"));
    await sleep(FAST_POLL * 5);
    expect(onReload).not.toHaveBeenCalled();
    expect(labelsOf(watcher.current())).toEqual(["one"]);
  });
});
