import { BotApiError } from "./BotApiError.js";
import type { TgMessageEntity } from "./TelegramTypes.js";

const ENTITY_TYPES = new Set([
  "mention",
  "hashtag",
  "cashtag",
  "bot_command",
  "url",
  "email",
  "phone_number",
  "bold",
  "italic",
  "underline",
  "strikethrough",
  "spoiler",
  "blockquote",
  "expandable_blockquote",
  "code",
  "pre",
  "text_link",
  "text_mention",
  "custom_emoji",
  "date_time",
]);

/**
 * Checks entities against their text as Telegram would: known type, a range inside the text, the fields each type
 * needs. Throws a 400 for what Telegram refuses; returns the problems it tolerates but the spec forbids: a spoiler
 * overlapping pre or code ("can contain and can be part of any other entities, except pre and code").
 */
export function checkEntities(text: string, entities: readonly TgMessageEntity[]): string[] {
  for (const entity of entities) {
    if (!ENTITY_TYPES.has(entity.type))
      throw BotApiError.badRequest(`can't parse entities: unsupported entity type "${entity.type}"`, true);
    if (entity.offset < 0 || entity.length <= 0 || entity.offset + entity.length > text.length) {
      throw BotApiError.badRequest(
        `can't parse entities: entity ${entity.type} at offset ${entity.offset} with length ${entity.length} is outside a text of ${text.length} UTF-16 code units`,
        true,
      );
    }
    if (entity.type === "text_link" && !entity.url)
      throw BotApiError.badRequest("can't parse entities: text_link without url", true);
    if (entity.type === "text_mention" && entity.user === undefined) {
      throw BotApiError.badRequest("can't parse entities: text_mention without user", true);
    }
  }
  const problems: string[] = [];
  for (const spoiler of entities.filter((entity) => entity.type === "spoiler")) {
    for (const other of entities.filter((entity) => entity.type === "pre" || entity.type === "code")) {
      if (spoiler.offset < other.offset + other.length && other.offset < spoiler.offset + spoiler.length) {
        problems.push(
          `spoiler at ${spoiler.offset}+${spoiler.length} overlaps ${other.type} at ${other.offset}+${other.length}: Telegram forbids spoilers over pre and code`,
        );
      }
    }
  }
  return problems;
}
