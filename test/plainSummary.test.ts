import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const config = fileURLToPath(new URL("./fixtures/summary/vitest.config.ts", import.meta.url));
const vitest = fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url));

/** Runs Vitest on the summary fixtures (one file, or all) and reads the closing line. */
function runFixtures(file?: string) {
  const run = spawnSync(process.execPath, [vitest, "run", "--config", config], {
    encoding: "utf8",
    env: { ...process.env, SUMMARY_FIXTURE: file ?? "*.fixture.ts", CI: "true" },
  });
  const lines = run.stdout.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  const match = /^(\d+) passed, (\d+) failed, (\d+) skipped$/.exec(last);
  return { status: run.status, last, counts: match ? match.slice(1).map(Number) : undefined };
}

describe("the closing 'N passed, N failed, N skipped' line", () => {
  it("counts a test file that fails at import as a failure, and the run exits non-zero", () => {
    const run = runFixtures("broken.fixture.ts");
    expect(run.counts, run.last).toEqual([0, 1, 0]);
    expect(run.status).not.toBe(0);
  });

  it("counts an error thrown outside any test as a failure", () => {
    const run = runFixtures("unhandled.fixture.ts");
    expect(run.counts, run.last).toEqual([1, 1, 0]);
    expect(run.status).not.toBe(0);
  });

  it("adds the failures of every kind to the passed tests of a mixed run", () => {
    const run = runFixtures();
    expect(run.counts, run.last).toEqual([2, 2, 0]);
    expect(run.status).not.toBe(0);
  });

  it("says 0 failed, and exits 0, for a run that passed", () => {
    const run = runFixtures("passes.fixture.ts");
    expect(run.counts, run.last).toEqual([1, 0, 0]);
    expect(run.status).toBe(0);
  });
});
