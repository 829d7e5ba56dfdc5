import { UploadedFile } from "./UploadedFile.js";

export type RawParams = Record<string, string | UploadedFile | unknown>;

/** Thrown for a body the server cannot read; answered as 400 with this message. */
export class BodyError extends Error {}

/**
 * The parameters of a Bot API call, from its query string and its body: JSON, urlencoded or multipart/form-data.
 * Form values stay strings (decodeBotApiParams types them from the spec); file parts become UploadedFile.
 */
export function parseRequestBody(query: URLSearchParams, contentType: string | undefined, body: Buffer): RawParams {
  const params: RawParams = Object.fromEntries(query);
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (body.length === 0) return params;
  if (type === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw new BodyError("Bad Request: can't parse JSON request body");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new BodyError("Bad Request: JSON request body must be an object");
    }
    return { ...params, ...(parsed as RawParams) };
  }
  if (type === "application/x-www-form-urlencoded") {
    return { ...params, ...Object.fromEntries(new URLSearchParams(body.toString("utf8"))) };
  }
  if (type === "multipart/form-data") {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
    const value = boundary?.[1] ?? boundary?.[2];
    if (value === undefined) throw new BodyError("Bad Request: multipart body without a boundary");
    return { ...params, ...parseMultipart(body, value) };
  }
  throw new BodyError(`Bad Request: unsupported content type ${type}`);
}

// Hand-written rather than busboy: the body is buffered whole anyway (a test upload is small), and telegraf writes
// part headers as `content-disposition:form-data; name="x"` with no space after the colon, which this parser reads
// by construction; the parser is the 30 lines below instead of a streaming state machine and its typings.
function parseMultipart(body: Buffer, boundary: string): RawParams {
  const params: RawParams = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let start = body.indexOf(delimiter);
  if (start < 0) throw new BodyError("Bad Request: multipart body without its boundary");
  for (;;) {
    const afterDelimiter = start + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === "--") break;
    const headersEnd = body.indexOf("\r\n\r\n", afterDelimiter);
    if (headersEnd < 0) throw new BodyError("Bad Request: truncated multipart part");
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headersEnd + 4);
    if (next < 0) throw new BodyError("Bad Request: multipart body without its closing boundary");
    const headers = new Map<string, string>();
    for (const line of body.subarray(afterDelimiter, headersEnd).toString("utf8").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get("content-disposition") ?? "";
    const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /;\s*filename="([^"]*)"/i.exec(disposition)?.[1];
    const data = body.subarray(headersEnd + 4, next);
    if (name !== undefined) {
      params[name] =
        filename === undefined
          ? data.toString("utf8")
          : new UploadedFile(filename, headers.get("content-type"), Buffer.from(data));
    }
    start = next + 2;
  }
  return params;
}
