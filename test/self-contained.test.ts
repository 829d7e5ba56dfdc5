import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Every committed source file of the project: what a user's clone has. */
function committedSources(): string[] {
  const listed = execFileSync("git", ["ls-files", "-z", "--", "*.ts", "*.mjs", "*.js", "*.cjs", "*.json", "*.yaml"], {
    cwd: root,
    encoding: "utf8",
  });
  return listed
    .split("\0")
    .filter(Boolean)
    .filter((file) => !file.endsWith("package-lock.json") && !file.includes("/data/"));
}

/**
 * Relative paths a file resolves against its own folder (`new URL("../x", import.meta.url)`) or joins onto a
 * folder above it (`join(root, "..", "x")`): each must stay inside the checkout.
 */
function escapes(file: string, text: string): string[] {
  const found: string[] = [];
  const here = dirname(join(root, file));
  for (const match of text.matchAll(/new URL\(\s*["'`]((?:\.\.?\/)*\.\.?\/?[^"'`]*)["'`]\s*,\s*import\.meta\.url/g)) {
    const target = resolve(here, match[1] ?? "");
    const inside = relative(root, target);
    if (inside.startsWith("..") || isAbsolute(inside)) found.push(match[0]);
  }
  // shared/ beside the repository is the steering folder: a user's clone never has it.
  for (const match of text.matchAll(/["'`][^"'`\n]*\.\.\/(?:\.\.\/)*shared\/[^"'`\n]*["'`]/g)) found.push(match[0]);
  return found;
}

describe("a clone with nothing beside it", () => {
  it("reads no file outside the checkout from any source, test, script or benchmark", () => {
    const outside = committedSources().flatMap((file) =>
      escapes(file, readFileSync(join(root, file), "utf8")).map((hit) => `${file}: ${hit}`),
    );
    expect(outside).toEqual([]);
  });

  it("catches a test that reads the shared folder above the checkout", () => {
    // The check itself must be able to fail: the two forms the vectors were read with before they were copied in.
    // The examples are put together here, so that this file's own text holds no path for the scan above to flag.
    const up = (levels: number) => "../".repeat(levels);
    const quoted = (path: string) => JSON.stringify(path);
    const test = "services/totp-core/test/x.test.ts";
    const vectors = `${up(4)}shared/vectors/rfc6238.json`;
    expect(escapes(test, `readFileSync(new URL(${quoted(vectors)}, import.meta.url))`)).toHaveLength(2);
    expect(escapes(test, `new URL(${quoted(`${up(3)}README.md`)}, import.meta.url)`)).toEqual([]);
    expect(escapes("bench/src/run.ts", `join(root, ${quoted(`${up(1)}shared/spec/api.min.json`)})`)).toHaveLength(1);
  });
});
