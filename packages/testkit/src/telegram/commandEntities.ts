import type { TgMessageEntity } from "./TelegramTypes.js";

// Telegram marks /commands (optionally /command@bot) at the start of a word as bot_command entities.
export function commandEntities(text: string): TgMessageEntity[] {
  return [...text.matchAll(/(?<![\w/])\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?/g)].map((match) => ({
    type: "bot_command",
    offset: match.index ?? 0,
    length: match[0].length,
  }));
}
