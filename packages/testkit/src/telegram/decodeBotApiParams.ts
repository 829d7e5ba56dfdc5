import { type BotApiSpec, botApiSpec } from "./BotApiSpec.js";
import type { RawParams } from "./parseRequestBody.js";
import { UploadedFile } from "./UploadedFile.js";

/**
 * Types the parameters as the Bot API does before it checks them: a string given for a field that is not only a
 * String (a form value, or JSON-serialized reply_markup) is read as JSON, `attach://<name>` names a file part.
 * Top-level fields only, as Telegram: nested values come from that JSON already typed.
 */
export function decodeBotApiParams(
  method: string,
  raw: RawParams,
  spec: BotApiSpec = botApiSpec(),
): Record<string, unknown> {
  const fields = new Map((spec.methods[method]?.fields ?? []).map((field) => [field.name, field.types]));
  const params: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    params[name] = decodeValue(value, fields.get(name), raw);
  }
  return params;
}

function decodeValue(value: unknown, types: string[] | undefined, raw: RawParams): unknown {
  if (typeof value !== "string" || types === undefined) return value;
  if (value.startsWith("attach://")) {
    const part = raw[value.slice("attach://".length)];
    if (part instanceof UploadedFile) return part;
  }
  if (types.length === 1 && types[0] === "String") return value;
  if (types.includes("String") && !/^-?\d+$/.test(value)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
