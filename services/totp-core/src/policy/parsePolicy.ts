import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { isLabelName, LABEL_NAME_RULE } from "./labelName.js";
import type { ClientRule, Policy, SharedLabel } from "./Policy.js";
import { PolicyError } from "./PolicyError.js";
import { principalProblem } from "./principal.js";

const GROUP_PREFIX = "group:";
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// A SPIFFE ID of a workload: lowercase trust domain, then one or more path segments (never "." or "..").
const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/;

const isSpiffeId = (text: string): boolean => SPIFFE_ID.test(text) && !/\/\.\.?(\/|$)/.test(text);

const principal = z.string().superRefine((text, ctx) => {
  const problem = principalProblem(text);
  if (problem) ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a principal: ${problem}` });
});

// A reader or manager: a principal or group:<name>. Whether the group exists is checked once all groups are known.
const member = z.string().superRefine((text, ctx) => {
  if (text.startsWith(GROUP_PREFIX)) return;
  const problem = principalProblem(text);
  if (problem) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(text)} is neither a principal nor group:<name>: ${problem}`,
    });
  }
});

// An instant with its offset (2026-12-02T18:00:00Z): a time without a zone would depend on the server's.
const instant = z.iso
  .datetime({ offset: true, error: "expected a date and time with its offset, e.g. 2026-12-02T18:00:00Z" })
  .transform((text) => Date.parse(text));

const client = z
  .strictObject({
    actsFor: z.enum(["telegram", "zulip"], { error: "expected one of telegram, zulip" }).optional(),
    principal: principal.optional(),
    admin: z.boolean().optional(),
    issuedAfter: instant.optional(),
  })
  .transform((c, ctx): ClientRule => {
    const issuedAfter = c.issuedAfter === undefined ? {} : { issuedAfter: c.issuedAfter };
    if (c.actsFor !== undefined && c.principal !== undefined) {
      ctx.addIssue({ code: "custom", message: "set actsFor or principal, not both" });
    } else if (c.principal !== undefined) {
      return { kind: "principal", principal: c.principal, admin: c.admin ?? false, ...issuedAfter };
    } else if (c.actsFor === undefined) {
      ctx.addIssue({ code: "custom", message: "set actsFor (a bot) or principal (a service)" });
    } else if (c.admin) {
      // An admin bot would make every user of its platform an admin.
      ctx.addIssue({ code: "custom", path: ["admin"], message: "only a client with a principal can be admin" });
    } else {
      return { kind: "actsFor", platform: c.actsFor, ...issuedAfter };
    }
    return z.NEVER;
  });

const sharedLabel = z.strictObject({
  readers: z.array(member).optional(),
  managers: z.array(member).optional(),
});

// A section left empty (`groups:` with nothing under it) reads as YAML null: the same as leaving it out.
const PolicyFile = z
  .strictObject({
    clients: z
      .record(z.string().refine(isSpiffeId, "a client identity is a SPIFFE ID: spiffe://<trust domain>/<path>"), client)
      .nullish(),
    groups: z
      .record(
        z.string().regex(GROUP_NAME, "a group name is 1 to 64 letters, digits, '.', '_' or '-'"),
        z.array(principal),
      )
      .nullish(),
    shared: z
      .record(z.string().refine(isLabelName, `a shared label name is ${LABEL_NAME_RULE}`), sharedLabel)
      .nullish(),
    selfService: z.boolean().optional(),
  })
  .transform((file, ctx): Policy => {
    const groups = new Map(Object.entries(file.groups ?? {}));
    const sharedEntries = Object.entries(file.shared ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    // The principals a reader or manager list names, groups expanded; unknown groups are reported at their index.
    const expand = (label: string, entry: z.infer<typeof sharedLabel>, key: "readers" | "managers"): Set<string> => {
      const principals = new Set<string>();
      for (const [i, member] of (entry[key] ?? []).entries()) {
        if (!member.startsWith(GROUP_PREFIX)) {
          principals.add(member);
          continue;
        }
        const group = groups.get(member.slice(GROUP_PREFIX.length));
        if (group === undefined) {
          const known = [...groups.keys()].join(", ") || "none";
          ctx.addIssue({ code: "custom", path: ["shared", label, key, i], message: `unknown group (known: ${known})` });
        }
        for (const p of group ?? []) principals.add(p);
      }
      return principals;
    };

    const shared = new Map<string, SharedLabel>();
    const sharedByReader = new Map<string, string[]>();
    for (const [label, entry] of sharedEntries) {
      const managers = expand(label, entry, "managers");
      const readers = expand(label, entry, "readers");
      // Whoever may manage a label may read it.
      for (const manager of managers) readers.add(manager);
      shared.set(label, { readers, managers });
      // Labels are visited in sorted order, so each principal's list comes out sorted.
      for (const reader of readers) {
        const labels = sharedByReader.get(reader);
        if (labels) labels.push(label);
        else sharedByReader.set(reader, [label]);
      }
    }
    return {
      clients: new Map(Object.entries(file.clients ?? {})),
      shared,
      sharedByReader,
      sharedLabels: sharedEntries.map(([label]) => label),
      selfService: file.selfService ?? false,
    };
  });

/** A key path as it reads in the file: clients["spiffe://x"].actsFor, groups.ops[1]. */
function keyPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_]\w*$/.test(key)) text += text ? `.${key}` : key;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text || "(top level)";
}

function describe(issue: z.core.$ZodIssue): string[] {
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key`);
    case "invalid_key":
      return [`${keyPath(issue.path)}: ${issue.issues.map((i) => i.message).join("; ")}`];
    default:
      return [`${keyPath(issue.path)}: ${issue.message}`];
  }
}

/**
 * Parses and validates a policy file (format in design.md, "Identity and authorization"). An empty file is a policy
 * with no clients, no shared labels and selfService off. Throws PolicyError listing every problem with its key path,
 * or the first YAML syntax error with its line.
 */
export function parsePolicy(yamlText: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const { line, col } = lineCounter.linePos(syntax.pos[0]);
    throw new PolicyError(`YAML syntax error at line ${line}, column ${col}: ${syntax.message}`);
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // Aliases are resolved here: an unknown anchor, or too many aliases (a "billion laughs" file).
    throw new PolicyError(`YAML error: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const result = PolicyFile.safeParse(value ?? {});
  if (!result.success) throw new PolicyError(`invalid policy: ${result.error.issues.flatMap(describe).join("; ")}`);
  return result.data;
}
