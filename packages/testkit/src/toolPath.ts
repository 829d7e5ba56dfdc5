import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

// src/ and dist/ both sit two levels below the repository root (packages/testkit/<dir>/toolPath.*).
const toolsBin = fileURLToPath(new URL("../../../.tools/bin/", import.meta.url));

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The executable a test must run: the project's pinned tool in .tools/bin first, else one on PATH. A missing tool
 * fails the test with the command that provides it; no test skips because a tool is absent.
 */
export function toolPath(name: string): string {
  const candidates = [toolsBin, ...(process.env.PATH ?? "").split(delimiter).filter(Boolean)];
  const found = candidates.map((dir) => join(dir, name)).find(isExecutable);
  if (!found) throw new Error(`${name} is missing: run npm run setup-tools`);
  return found;
}
