import { readTestJson } from "../testData.js";

export interface BotApiField {
  name: string;
  types: string[];
  required: boolean;
  description?: string;
}

export interface BotApiMethod {
  name: string;
  fields?: BotApiField[];
  returns: string[];
}

export interface BotApiType {
  name: string;
  fields?: BotApiField[];
  subtypes?: string[];
}

/** The vendored Bot API method and type list (see data/telegram-bot-api/README.md). */
export interface BotApiSpec {
  version: string;
  methods: Record<string, BotApiMethod>;
  types: Record<string, BotApiType>;
}

let cached: BotApiSpec | undefined;

/** The vendored spec, read once per process (it is 800 KB of JSON). */
export function botApiSpec(): BotApiSpec {
  cached ??= readTestJson<BotApiSpec>("telegram-bot-api", "api.min.json");
  return cached;
}
