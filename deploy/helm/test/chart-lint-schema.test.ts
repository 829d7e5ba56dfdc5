import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CHART_DIR, chartArgs, helm, templateArgs, VALUE_SETS } from "./renderChart.js";

const chartFile = (name: string) => readFileSync(`${CHART_DIR}${name}`, "utf8");
const rootPackage = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));

/** Every key path of a values tree: core, core.ports, core.ports.grpc, ... A label selector is one value. */
function keyPaths(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => [
    `${prefix}${key}`,
    ...(key.endsWith("Selector") ? [] : keyPaths(child, `${prefix}${key}.`)),
  ]);
}

describe("the chart's metadata", () => {
  it("is a v2 chart whose appVersion is the project's version", () => {
    const chart = parse(chartFile("Chart.yaml"));
    expect(chart.apiVersion).toBe("v2");
    expect(rootPackage.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(chart.appVersion).toBe(rootPackage.version);
  });

  it.each(Object.entries(VALUE_SETS))("passes helm lint --strict with %s", async (_set, files) => {
    const run = await helm(["lint", "--strict", ...chartArgs(files)]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("0 chart(s) failed");
    expect(run.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });
});

describe("values.yaml and values.schema.json", () => {
  const values = parse(chartFile("values.yaml"));
  const schema = JSON.parse(chartFile("values.schema.json"));

  it("comment every value on the line above it", () => {
    const lines = chartFile("values.yaml").split("\n");
    const uncommented = lines.flatMap((line, i) => {
      // Entries of a label selector are labels, not values.
      if (!/^\s*[A-Za-z][\w.-]*:/.test(line) || /Selector:\s*$/.test(lines[i - 1] ?? "")) return [];
      return lines[i - 1]?.trim().startsWith("#") ? [] : [`line ${i + 1}: ${line.trim()}`];
    });
    expect(uncommented).toEqual([]);
  });

  it("is draft-07 and closes every object: fixed keys refuse others, maps type their values", () => {
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    const open: string[] = [];
    const walk = (node: Record<string, unknown>, at: string) => {
      if (node.type === "object") {
        if (node.properties ? node.additionalProperties !== false : typeof node.additionalProperties !== "object") {
          open.push(at || "(top level)");
        }
      }
      for (const [key, child] of Object.entries(node)) {
        if (typeof child === "object" && child !== null) walk(child as Record<string, unknown>, `${at}/${key}`);
      }
    };
    walk(schema, "");
    expect(open).toEqual([]);
  });

  it("describes every key of values.yaml", () => {
    const missing = keyPaths(values).filter((path) => {
      let node = schema;
      for (const key of path.split(".")) {
        node = node.properties?.[key];
        if (!node) return true;
      }
      return false;
    });
    expect(missing).toEqual([]);
  });

  it.each([
    ["a string for a number", "core.replicas=two", "/core/replicas"],
    ["a number for a boolean", "core.reflection=1", "/core/reflection"],
    ["an unknown store", "core.store=file", "/core/store"],
    ["a uid below 10000", "securityContext.runAsUser=1000", "/securityContext/runAsUser"],
    ["a bad CIDR", "networkPolicy.vault.cidrs[0]=vault", "/networkPolicy/vault/cidrs/0"],
    ["a principal that is none", "policy.groups.ops[0]=root", "/policy/groups/ops/0"],
    ["a Node flag other than a heap size", "core.nodeOptions=--require=/tmp/x.js", "/core/nodeOptions"],
    ["an audit head interval under a second", "core.audit.headIntervalMs=500", "/core/audit/headIntervalMs"],
    ["a Redis CA Secret name that is none", "redis.ca.secretName=Redis_CA", "/redis/ca/secretName"],
  ])("refuses %s, naming the value", async (_what, set, path) => {
    const run = await helm(templateArgs([], [set]));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`at '${path}'`);
  });

  it.each([
    ["at the top level", "replica=2", "at '': additional properties 'replica' not allowed"],
    ["inside a section", "core.replica=2", "at '/core': additional properties 'replica' not allowed"],
    [
      "deep inside",
      "telegramBot.webhook.ingress.hosts=x",
      "at '/telegramBot/webhook/ingress': additional properties 'hosts' not allowed",
    ],
  ])("refuses an unknown key %s, naming it", async (_where, set, message) => {
    const run = await helm(templateArgs([], [set]));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(message);
  });

  it.each([
    ["webhook mode without its URL", ["telegramBot.mode=webhook"], "telegramBot.webhook.url: required"],
    [
      "existing Secrets without the core's",
      ["tls.source=existingSecrets"],
      "tls.source is existingSecrets: name the Secret of",
    ],
    ["AppRole without a role id", ["vault.auth.method=approle"], "vault.auth.approle.roleId: required"],
    [
      "Redis' password without its URL",
      ["redis.passwordSecret.name=redis-password"],
      "redis.passwordSecret and redis.ca: only used with redis.urlSecret",
    ],
    ["a renewal longer than the lifetime", ["tls.certManager.renewBeforeHours=30"], "renewBeforeHours: must be less"],
    [
      "an internal client with both principal and actsFor",
      [
        "internalClients[0].name=ci",
        "internalClients[0].principal=service:ci",
        "internalClients[0].actsFor=zulip",
        "internalClients[0].podSelector.app=ci",
      ],
      "internalClients/0",
    ],
    [
      "an internal client taking a chart identity",
      [
        "internalClients[0].name=totp-core",
        "internalClients[0].principal=service:x",
        "internalClients[0].podSelector.app=ci",
      ],
      "one of the chart's own identities",
    ],
  ])("stops on %s with a message naming the value", async (_what, sets, message) => {
    const run = await helm(templateArgs([], sets));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(message);
  });
});

describe("the chart's README", () => {
  const readme = chartFile("README.md");
  // The table's first column: | `core.ports.grpc` | ... ; several keys may share a row.
  const documented = new Set(
    readme
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .flatMap((line) => [...(line.split("|")[1] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1])),
  );

  it("lists every leaf value of values.yaml in its table, with its default", () => {
    const values = parse(chartFile("values.yaml"));
    const leaves = keyPaths(values).filter((path) => {
      const value = path.split(".").reduce((node, key) => node[key], values);
      const leaf =
        typeof value !== "object" || value === null || Array.isArray(value) || Object.keys(value).length === 0;
      return leaf || path.endsWith("Selector");
    });
    expect(leaves.filter((path) => !documented.has(path))).toEqual([]);
  });

  it("names no value that does not exist", () => {
    const values = parse(chartFile("values.yaml"));
    const known = new Set(keyPaths(values));
    expect([...documented].filter((path) => !known.has(path as string))).toEqual([]);
  });
});
