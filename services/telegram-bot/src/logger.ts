import { type Logger, pino } from "pino";

/** `bot<token>` in a Bot API URL (node-fetch puts the URL in its errors' messages). */
const TOKEN_IN_URL = /bot\d+:[A-Za-z0-9_-]+/g;

/** A message with any bot token replaced, so a failed request can be logged. */
export function withoutToken(text: string): string {
  return text.replace(TOKEN_IN_URL, "bot<token>");
}

/**
 * Errors are logged by a fixed set of fields. A TelegramError carries the request it failed on (`on.payload`: the
 * message text, which can hold a code), a fetch error the URL with the token in it: spreading either into a log line
 * would leak, so only the type, the message without the token, the status code and the method are kept.
 */
export function safeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const e = err as Error & { code?: unknown; on?: { method?: unknown } };
  return {
    type: e.name,
    message: withoutToken(e.message),
    code: typeof e.code === "string" || typeof e.code === "number" ? e.code : undefined,
    method: typeof e.on?.method === "string" ? e.on.method : undefined,
    stack: e.stack && withoutToken(e.stack),
    cause: e.cause !== undefined && depth < 2 ? safeError(e.cause, depth + 1) : undefined,
  };
}

/** The service log: JSON lines on stdout. Callers log ids and outcomes only, never a message's text. */
export function createLogger(level = "info"): Logger {
  return pino({ level, base: { service: "telegram-bot" }, serializers: { err: safeError } });
}
