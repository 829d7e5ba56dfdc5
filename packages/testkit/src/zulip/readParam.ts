import { invalidArgument, missingArgument } from "./ZulipApiError.js";

type Params = Record<string, string>;

/** A JSON-encoded parameter, as Zulip decodes lists, objects and booleans. */
function readJson(params: Params, name: string): unknown {
  try {
    return JSON.parse(params[name] ?? "");
  } catch {
    throw invalidArgument(name);
  }
}

/** A boolean parameter as Zulip reads it: JSON `true`/`false`. */
export function readBoolean(params: Params, name: string, fallback: boolean): boolean {
  if (params[name] === undefined) return fallback;
  const value = readJson(params, name);
  if (typeof value !== "boolean") throw invalidArgument(name, "is not a boolean");
  return value;
}

export function readStringList(params: Params, name: string): string[] {
  const value = readJson(params, name);
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw invalidArgument(name, "is not a list");
  return value;
}

export function readObject(params: Params, name: string): Record<string, unknown> {
  const value = readJson(params, name);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidArgument(name, "is not a dict");
  return value as Record<string, unknown>;
}

/** A required non-negative integer. */
export function readCount(params: Params, name: string): number {
  const raw = params[name];
  if (raw === undefined) throw missingArgument(name);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw invalidArgument(name, "is not a non-negative integer");
  return value;
}
