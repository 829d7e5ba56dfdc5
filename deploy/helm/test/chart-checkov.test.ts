import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runProcess, toolPath } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CHART_DIR, helm, templateArgs, VALUE_SETS } from "./renderChart.js";

interface CheckovReport {
  check_type: string;
  results: {
    failed_checks: { check_id: string; check_name: string; resource: string }[];
    skipped_checks: { check_id: string; resource: string }[];
  };
  summary: { passed: number; failed: number; skipped: number; parsing_errors: number; resource_count: number };
}

const CONFIG = join(CHART_DIR, ".checkov.yaml");

describe("checkov on the rendered manifests", () => {
  let dir: string;
  let report: CheckovReport;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "chart-checkov-"));
    // One file per value set, all scanned in one run (checkov starts slowly).
    for (const [index, files] of Object.values(VALUE_SETS).entries()) {
      const run = await helm(templateArgs(files));
      if (run.code !== 0) throw new Error(`helm template failed: ${run.stderr}`);
      await writeFile(join(dir, `set-${index}.yaml`), run.stdout);
    }
    const checkov = runProcess(toolPath("checkov"), [
      "--directory",
      dir,
      "--framework",
      "kubernetes",
      "--config-file",
      CONFIG,
      "--skip-download",
      "--quiet",
      "--compact",
      "--output",
      "json",
    ]);
    await checkov.exited;
    const parsed = JSON.parse(checkov.stdout) as CheckovReport | CheckovReport[];
    const found = (Array.isArray(parsed) ? parsed : [parsed]).find((r) => r.check_type === "kubernetes");
    if (!found)
      throw new Error(
        `checkov gave no kubernetes report: ${checkov.stdout.slice(0, 500)} ${checkov.stderr.slice(-500)}`,
      );
    report = found;
  }, 300_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("finds no failed check and parses every file", () => {
    expect(report.results.failed_checks.map((c) => `${c.check_id} ${c.check_name}: ${c.resource}`)).toEqual([]);
    expect(report.summary.parsing_errors).toBe(0);
    expect(report.summary.resource_count).toBeGreaterThan(50);
    expect(report.summary.passed).toBeGreaterThan(500);
  });

  it("skips only the checks listed, with their reasons, in the chart's .checkov.yaml", async () => {
    const text = await readFile(CONFIG, "utf8");
    const listed: string[] = parse(text)["skip-check"];
    // A check can also be skipped by an annotation on the object (checkov.io/skip1: CKV_K8S_n=reason), which
    // checkov reports as skipped: every skipped check must be one of the list.
    const skipped = report.results.skipped_checks ?? [];
    expect(skipped.filter((c) => !listed.includes(c.check_id)).map((c) => `${c.check_id}: ${c.resource}`)).toEqual([]);
    expect(report.summary.skipped).toBe(skipped.length);
    // checkov leaves a check skipped by its configuration out of the run: none may show up as failed.
    expect(report.results.failed_checks.filter((c) => listed.includes(c.check_id))).toEqual([]);
    expect(listed.length).toBe(3);
    // Each skipped id sits under a comment that says why (ids sharing one reason follow each other).
    const lines = text.split("\n");
    for (const id of listed) {
      let i = lines.findIndex((line) => line.trim() === `- ${id}`);
      while (lines[i - 1]?.trim().startsWith("- CKV")) i -= 1;
      expect(lines[i - 1]?.trim().startsWith("#"), id).toBe(true);
    }
  });
});
