/**
 * The text fields of a multipart/form-data body (files are kept as their bytes decoded as UTF-8, which is enough for
 * an API whose parameters are all text). Lenient about header spacing and case, as clients differ there.
 */
export function parseMultipart(body: Buffer, contentType: string): Record<string, string> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const marker = boundary?.[1] ?? boundary?.[2]?.trim();
  if (!marker) throw new Error("multipart body without a boundary");
  const fields: Record<string, string> = {};
  const delimiter = Buffer.from(`--${marker}`);
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const partStart = start + delimiter.length;
    // "--" right after a delimiter closes the body.
    if (body.subarray(partStart, partStart + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, partStart);
    if (next === -1) break;
    const part = body.subarray(partStart, next);
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString("utf8");
      const name = /content-disposition:[^\r\n]*?\bname="([^"]*)"/i.exec(headers)?.[1];
      // The part's value ends before the CRLF that precedes the next delimiter.
      let value = part.subarray(headerEnd + 4);
      if (value.subarray(-2).toString() === "\r\n") value = value.subarray(0, -2);
      if (name !== undefined) fields[name] = value.toString("utf8");
    }
    start = next;
  }
  return fields;
}
