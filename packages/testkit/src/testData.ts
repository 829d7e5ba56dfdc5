import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// src/ and dist/ both sit one level below the package, beside data/.
const dataDir = fileURLToPath(new URL("../data/", import.meta.url));

/** The path of a file under packages/testkit/data (see its README for where each file comes from). */
export function testDataPath(...segments: string[]): string {
  return join(dataDir, ...segments);
}

/** A JSON file under packages/testkit/data, parsed. */
export function readTestJson<T = unknown>(...segments: string[]): T {
  return JSON.parse(readFileSync(testDataPath(...segments), "utf8")) as T;
}
