import { BotApiError } from "./BotApiError.js";
import type { TgInlineKeyboardMarkup } from "./TelegramTypes.js";

const ACTIONS = [
  "url",
  "callback_data",
  "web_app",
  "login_url",
  "switch_inline_query",
  "switch_inline_query_current_chat",
  "switch_inline_query_chosen_chat",
  "copy_text",
  "callback_game",
  "pay",
];

/**
 * Checks an inline keyboard as Telegram does when a message carries it: each button has a text and exactly one
 * action, callback_data is 1-64 bytes (BUTTON_DATA_INVALID otherwise; telegraf itself does not check).
 */
export function checkInlineKeyboard(markup: TgInlineKeyboardMarkup): void {
  for (const row of markup.inline_keyboard) {
    for (const button of row) {
      if (button.text === "") throw BotApiError.badRequest("BUTTON_TEXT_INVALID", true);
      const actions = ACTIONS.filter((action) => button[action] !== undefined);
      if (actions.length !== 1) {
        throw BotApiError.badRequest(
          `can't parse inline keyboard button: ${actions.length === 0 ? "Text buttons are unallowed in the inline keyboard" : "more than one action"}`,
          true,
        );
      }
      const data = button.callback_data;
      if (data !== undefined) {
        const bytes = Buffer.byteLength(data, "utf8");
        if (bytes < 1 || bytes > 64) throw BotApiError.badRequest("BUTTON_DATA_INVALID", true);
      }
    }
  }
}
