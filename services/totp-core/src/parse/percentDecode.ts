import { invalid } from "../errors.js";

const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/**
 * `decodeURIComponent` with an INVALID_ARGUMENT that says where the encoding breaks instead of a URIError. `what`
 * names the part in messages; `offset` is where `text` starts in the URI, so positions count in the whole URI.
 * `+` stays `+`: the Key URI format percent-encodes spaces, and base64 data holds literal `+`.
 */
export function percentDecode(text: string, what: string, offset: number): string {
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    const bad = BAD_ESCAPE.exec(text);
    throw invalid(
      bad
        ? `${what} has a '%' not followed by two hex digits at position ${offset + bad.index + 1} of the URI`
        : `${what} is not valid UTF-8 once percent-decoded`,
    );
  }
}
