import type { WebhookDelivery } from "./ZulipTypes.js";

export interface OutgoingWebhookOptions {
  timeoutMs: number;
  zulipVersion: string;
  /** Aborted when the server closes. */
  signal: AbortSignal;
}

/** What Zulip posts in place when the bot's server fails. */
export const WEBHOOK_FAILURE_NOTICE = "Failure! Bot is unavailable";
// Zulip retries an outgoing webhook that timed out or could not connect this many times before giving up.
const RETRIES = 3;

/**
 * POSTs the delivery's payload as Zulip's outgoing-webhook service does, recording status, answer, error and attempts
 * on `delivery`. Resolves to what the bot posts in reply (its `content`, or the failure notice), or undefined for
 * nothing (response_not_required, empty content, or the server closing).
 */
export async function postOutgoingWebhook(
  delivery: WebhookDelivery,
  options: OutgoingWebhookOptions,
): Promise<string | undefined> {
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    delivery.attempts = attempt + 1;
    try {
      const response = await fetch(delivery.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": `ZulipOutgoingWebhook/${options.zulipVersion}` },
        body: JSON.stringify(delivery.payload),
        signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
      });
      delivery.status = response.status;
      const text = await response.text();
      try {
        delivery.response = JSON.parse(text);
      } catch {
        delivery.response = text;
      }
      delivery.error = undefined;
      // A bot server that answered an error is not retried: only an unreachable one is.
      if (!response.ok) {
        delivery.error = `The webhook got a response with status code *${response.status}*.`;
        return WEBHOOK_FAILURE_NOTICE;
      }
      return replyContent(delivery.response);
    } catch (error) {
      if (options.signal.aborted) return undefined;
      delivery.error =
        (error as Error).name === "TimeoutError"
          ? `Request timed out after ${options.timeoutMs / 1000} seconds.`
          : "A connection error occurred. Is my bot server down?";
    }
  }
  return WEBHOOK_FAILURE_NOTICE;
}

/**
 * The bot's reply in an answer, or undefined when none is due. As Zulip reads it: the older `response_string` wins
 * over `content`, either is turned into text (so a JSON null posts "None", as Python prints it), empty posts nothing.
 */
function replyContent(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const answer = body as Record<string, unknown>;
  if (answer.response_not_required === true) return undefined;
  const key = "response_string" in answer ? "response_string" : "content" in answer ? "content" : undefined;
  if (key === undefined) return undefined;
  const value = answer[key];
  const content = value === null ? "None" : typeof value === "string" ? value : JSON.stringify(value);
  return content === "" ? undefined : content;
}
