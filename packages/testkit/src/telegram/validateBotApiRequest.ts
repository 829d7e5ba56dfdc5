import { type BotApiField, type BotApiSpec, botApiSpec } from "./BotApiSpec.js";
import { UploadedFile } from "./UploadedFile.js";

export interface SpecViolation {
  method: string;
  /** Path of the offending value, e.g. `reply_markup.inline_keyboard[0][1].callback_data`. */
  field?: string;
  problem: string;
  /**
   * unknown_field: Telegram ignores it, recorded only; missing_field / wrong_type: Telegram answers 400;
   * semantic: a rule beyond field types (lengths, entity ranges, spoiler over code...), checked by the server.
   */
  kind: "unknown_method" | "unknown_field" | "missing_field" | "wrong_type" | "semantic";
}

// Fields real clients add that the Bot API tolerates: telegraf's Markup.button.* writes `hide: false`.
const TOLERATED_FIELDS: Record<string, readonly string[]> = { InlineKeyboardButton: ["hide"] };
const MAX_DEPTH = 12;

/** The spec's own method name for `method` in any letter case (Telegram matches them case-insensitively). */
export function canonicalMethodName(method: string, spec: BotApiSpec = botApiSpec()): string | undefined {
  const lower = method.toLowerCase();
  return Object.keys(spec.methods).find((name) => name.toLowerCase() === lower);
}

/**
 * Every way `params` (already decoded: see decodeBotApiParams) breaks the method's field list in the Bot API spec:
 * unknown method or field, missing required field, wrong type, recursively through object types.
 */
export function validateBotApiRequest(
  method: string,
  params: Record<string, unknown>,
  spec: BotApiSpec = botApiSpec(),
): SpecViolation[] {
  const name = canonicalMethodName(method, spec);
  if (name === undefined) return [{ method, problem: "unknown method", kind: "unknown_method" }];
  const violations: Omit<SpecViolation, "method">[] = [];
  checkFields(spec, spec.methods[name]?.fields ?? [], params, "", [], violations, 0);
  return violations.map((violation) => ({ method: name, ...violation }));
}

type Found = Omit<SpecViolation, "method">;

function checkFields(
  spec: BotApiSpec,
  fields: BotApiField[],
  value: Record<string, unknown>,
  path: string,
  tolerated: readonly string[],
  out: Found[],
  depth: number,
): void {
  const known = new Set(fields.map((field) => field.name));
  for (const key of Object.keys(value)) {
    if (!known.has(key) && !tolerated.includes(key)) {
      out.push({ field: join(path, key), problem: "unknown field", kind: "unknown_field" });
    }
  }
  for (const field of fields) {
    const fieldValue = value[field.name];
    if (fieldValue === undefined || fieldValue === null) {
      if (field.required) out.push({ field: join(path, field.name), problem: "required", kind: "missing_field" });
      continue;
    }
    const fixed = discriminator(field);
    if (fixed !== undefined && fieldValue !== fixed) {
      out.push({ field: join(path, field.name), problem: `must be "${fixed}"`, kind: "wrong_type" });
      continue;
    }
    out.push(...checkUnion(spec, field.types, fieldValue, join(path, field.name), depth + 1));
  }
}

function checkUnion(spec: BotApiSpec, types: string[], value: unknown, path: string, depth: number): Found[] {
  let best: Found[] | undefined;
  for (const type of types) {
    const found = checkType(spec, type, value, path, depth);
    if (found.length === 0) return [];
    if (best === undefined || rank(found) < rank(best)) best = found;
  }
  if (best?.some((violation) => violation.field !== path)) return best;
  return [{ field: path, problem: `expected ${types.join(" or ")}, got ${describe(value)}`, kind: "wrong_type" }];
}

// A candidate that failed only on unknown fields is closer than one with the wrong shape, and a subtype whose
// type field differs is the farthest of all.
function rank(found: Found[]): number {
  const weight = (violation: Found) =>
    violation.kind === "unknown_field" ? 1 : violation.problem.startsWith("must be ") ? 10_000 : 100;
  return found.reduce((sum, violation) => sum + weight(violation), 0);
}

function checkType(spec: BotApiSpec, type: string, value: unknown, path: string, depth: number): Found[] {
  const wrong = (): Found[] => [
    { field: path, problem: `expected ${type}, got ${describe(value)}`, kind: "wrong_type" },
  ];
  if (depth > MAX_DEPTH) return [];
  if (type.startsWith("Array of ")) {
    if (!Array.isArray(value)) return wrong();
    const itemType = type.slice("Array of ".length);
    return value.flatMap((item, index) => checkUnion(spec, [itemType], item, `${path}[${index}]`, depth + 1));
  }
  switch (type) {
    case "Integer":
      return Number.isSafeInteger(value) ? [] : wrong();
    case "Float":
      return typeof value === "number" && Number.isFinite(value) ? [] : wrong();
    case "String":
      return typeof value === "string" ? [] : wrong();
    case "Boolean":
      return typeof value === "boolean" ? [] : wrong();
    case "InputFile":
      return value instanceof UploadedFile ? [] : wrong();
  }
  const objectType = spec.types[type];
  if (objectType === undefined)
    return [{ field: path, problem: `type ${type} is not in the spec`, kind: "wrong_type" }];
  if (objectType.subtypes !== undefined) return checkUnion(spec, objectType.subtypes, value, path, depth + 1);
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof UploadedFile) {
    return wrong();
  }
  const found: Found[] = [];
  checkFields(
    spec,
    objectType.fields ?? [],
    value as Record<string, unknown>,
    path,
    TOLERATED_FIELDS[type] ?? [],
    found,
    depth,
  );
  return found;
}

// Subtypes of a union (BotCommandScope, InputMedia...) tell themselves apart by a field documented as
// 'must be chat' or 'always "emoji"'; without this check {type:"chat"} would pass as BotCommandScopeDefault.
function discriminator(field: BotApiField): string | undefined {
  if (field.description === undefined) return undefined;
  const match = /(?:must be|always) "?([a-z_]+)"?$/.exec(field.description);
  return match?.[1];
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (value instanceof UploadedFile) return "file";
  return typeof value;
}
