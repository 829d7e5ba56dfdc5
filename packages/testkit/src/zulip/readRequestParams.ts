import { parseMultipart } from "./parseMultipart.js";

/**
 * The request's parameters, as Zulip reads them: the query string, then a urlencoded or multipart body (a body
 * field wins over a query field of the same name).
 */
export function readRequestParams(url: URL, contentType: string | undefined, body: Buffer): Record<string, string> {
  const params: Record<string, string> = Object.fromEntries(url.searchParams);
  if (body.length === 0) return params;
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("multipart/form-data")) return { ...params, ...parseMultipart(body, contentType ?? "") };
  if (type.startsWith("application/x-www-form-urlencoded") || type === "") {
    return { ...params, ...Object.fromEntries(new URLSearchParams(body.toString("utf8"))) };
  }
  return params;
}
