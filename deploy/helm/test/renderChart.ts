import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess, toolPath } from "@totp-custody/testkit";
import { parseAllDocuments } from "yaml";

export const CHART_DIR = fileURLToPath(new URL("../totp-custody/", import.meta.url));
export const NAMESPACE = "totp";
export const RELEASE = "totp-custody";
// helm template assumes Kubernetes 1.20 unless told; the chart needs >= 1.27 (gRPC probes are GA there).
export const KUBE_VERSION = "1.31.4";

/** The value sets every rule is checked on: files under values/, on top of the chart's defaults. */
export const VALUE_SETS = {
  defaults: [],
  "existing Secrets": ["existing-secrets.yaml"],
  "webhooks, 3 replicas each": ["webhooks.yaml"],
  "TOTP engine, AppRole, HPA": ["totp-engine.yaml"],
} satisfies Record<string, string[]>;

export type ValueSet = keyof typeof VALUE_SETS;

export const valuesFile = (name: string): string => fileURLToPath(new URL(`./values/${name}`, import.meta.url));

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects of every kind, read by the assertions.
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  data?: any;
  automountServiceAccountToken?: boolean;
}

export interface HelmRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the project's helm with `args`; resolves with its exit code and output, whatever the code. */
export async function helm(args: readonly string[]): Promise<HelmRun> {
  const child = runProcess(toolPath("helm"), args);
  const { code } = await child.exited;
  return { code, stdout: child.stdout, stderr: child.stderr };
}

/** The chart, namespace, Kubernetes version and value set that `helm lint` and `helm template` both take. */
export function chartArgs(files: readonly string[], sets: readonly string[] = [], chart = CHART_DIR): string[] {
  return [
    chart,
    "--namespace",
    NAMESPACE,
    "--kube-version",
    KUBE_VERSION,
    ...files.flatMap((file) => ["--values", valuesFile(file)]),
    ...sets.flatMap((set) => ["--set", set]),
  ];
}

/** `helm template` arguments for a value set plus extra `--set` pairs. */
export function templateArgs(files: readonly string[], sets: readonly string[] = [], chart = CHART_DIR): string[] {
  return ["template", RELEASE, ...chartArgs(files, sets, chart)];
}

/** The manifests `helm template` renders (the test hook included); fails the test with helm's message. */
export async function renderChart(files: readonly string[], sets: readonly string[] = []): Promise<Manifest[]> {
  const run = await helm(templateArgs(files, sets));
  if (run.code !== 0) throw new Error(`helm template failed (${run.code}): ${run.stderr.trim()}`);
  return parseManifests(run.stdout);
}

export function parseManifests(text: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as Manifest | null;
    if (value) manifests.push(value);
  }
  return manifests;
}

const NOTES_TEMPLATE = "templates/notes-as-configmap.yaml";

/**
 * NOTES.txt as helm renders it after an install with these values. helm prints notes only from install and
 * upgrade, which need a reachable cluster even with --dry-run=client; `helm template` renders them too but prints
 * only manifests. So a copy of the chart gets one more template, a ConfigMap holding NOTES.txt's text as a named
 * template: the same engine renders it with the same values, release and capabilities (--kube-version).
 */
export async function renderNotes(files: readonly string[], sets: readonly string[] = []): Promise<string> {
  const chart = await mkdtemp(join(tmpdir(), "chart-notes-"));
  try {
    await cp(CHART_DIR, chart, { recursive: true });
    const notes = await readFile(join(CHART_DIR, "templates", "NOTES.txt"), "utf8");
    await writeFile(
      join(chart, NOTES_TEMPLATE),
      `{{- define "test.notes" -}}\n${notes}{{- end -}}\n` +
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\n" +
        'data: { NOTES.txt: {{ include "test.notes" . | toJson }} }\n',
    );
    const run = await helm([...templateArgs(files, sets, chart), "--show-only", NOTES_TEMPLATE]);
    if (run.code !== 0) throw new Error(`helm template failed (${run.code}): ${run.stderr.trim()}`);
    const [configMap] = parseManifests(run.stdout);
    return configMap?.data["NOTES.txt"];
  } finally {
    await rm(chart, { recursive: true, force: true });
  }
}
