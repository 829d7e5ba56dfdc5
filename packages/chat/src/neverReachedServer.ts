/** Connection errors that happen before a byte of the request is sent: no address, or the port refused. */
const BEFORE_SENDING = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Whether a chat API call failed in a way that proves the server never got the request (node-fetch's FetchError,
 * which zulip-js and telegraf both use, with one of those codes). Such a call can be made again even when it is a
 * send: the message cannot be posted twice. After a timeout or a cut connection it may have been posted.
 */
export function neverReachedServer(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== "FetchError") return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && BEFORE_SENDING.has(code);
}
