import { type Logger, pino } from "pino";

/**
 * Errors are logged by a fixed set of fields: an error object may carry the request it failed on (zulip-js attaches
 * the response, whose URL can hold a message's content), so spreading one into a log line is never safe.
 */
export function safeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const { code } = err as Error & { code?: unknown };
  return {
    type: err.name,
    message: err.message,
    code: typeof code === "string" || typeof code === "number" ? code : undefined,
  };
}

/**
 * The bot's log: JSON lines on stdout. No line carries a message's text or a reply, where seeds and codes live:
 * the code logs message ids, senders and command names only, and errors by the fields above.
 */
export function createLogger(level = "info"): Logger {
  return pino({ level, base: { service: "zulip-bot" }, serializers: { err: safeError } });
}
