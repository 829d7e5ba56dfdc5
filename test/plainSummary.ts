import type { Reporter, SerializedError, TestModule } from "vitest/node";

/** The closing line's counts. */
export interface PlainCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Counts a run the way a reader of "N failed" expects: a failed test, a test file that failed to load or whose
 * hooks failed outside any test (its tests never ran, so they count nowhere else), and an error thrown outside any
 * test each count as one failure.
 */
export function plainCounts(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): PlainCounts {
  const count = { passed: 0, failed: unhandledErrors.length, skipped: 0 };
  for (const module of modules) {
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === "passed") count.passed++;
      else if (state === "failed") count.failed++;
      else count.skipped++;
    }
    if (module.errors().length > 0) count.failed++;
    for (const suite of module.children.allSuites()) if (suite.errors().length > 0) count.failed++;
  }
  return count;
}

/**
 * Ends a run with the one line CI systems read in any language, "N passed, N failed, N skipped", after Vitest's own
 * summary (which they do not know).
 */
export default class PlainSummary implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    const { passed, failed, skipped } = plainCounts(modules, unhandledErrors);
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
