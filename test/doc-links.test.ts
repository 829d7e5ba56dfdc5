import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

/** GitHub's anchor for a heading: lower case, punctuation dropped (but `-` and `_`), spaces to `-`. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const headings = [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => headingAnchor(m[1] ?? ""));
  return new Set(headings);
}

/** Every relative link of a markdown file that names a missing file or a missing heading. */
function brokenLinks(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const broken: string[] = [];
  for (const [, target = ""] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target)) continue;
    const [path = "", anchor] = target.split("#");
    const resolved = path === "" ? join(root, file) : join(root, dirname(file), path);
    if (!existsSync(resolved)) {
      broken.push(`${file}: ${target} (no ${relative(root, resolved)})`);
    } else if (anchor && resolved.endsWith(".md") && !anchorsOf(readFileSync(resolved, "utf8")).has(anchor)) {
      broken.push(`${file}: ${target} (no heading #${anchor})`);
    }
  }
  return broken;
}

describe("the documentation", () => {
  const markdown = execFileSync("git", ["ls-files", "*.md"], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter(Boolean);

  it("has no relative link to a missing file or heading", () => {
    expect(markdown.flatMap(brokenLinks)).toEqual([]);
  });

  it("keeps the root README short enough to read in ten minutes, and links every package's README from it", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(readme.split("\n").length).toBeLessThan(200);
    const packageReadmes = markdown.filter((file) =>
      /^(services|packages|deploy\/helm)\/[^/]+\/README\.md$/.test(file),
    );
    const linked = packageReadmes.filter((file) => readme.includes(`](${file}`));
    expect(linked).toEqual(packageReadmes);
  });

  it("makes GitHub's anchors of headings with code and punctuation", () => {
    expect(headingAnchor("Metrics (`TOTP_METRICS_LISTEN`)")).toBe("metrics-totp_metrics_listen");
    expect(headingAnchor("Audit log (stdout, or `TOTP_AUDIT_FILE`)")).toBe("audit-log-stdout-or-totp_audit_file");
  });
});
