/** The pieces of `scheme://host/path?query#fragment`, with the 0-based offsets of path and query in the input. */
export interface UriParts {
  /** Lower-cased. */
  scheme: string;
  /** Lower-cased; the OTP type in an otpauth URI. */
  host: string;
  /** Still percent-encoded; empty when there is none. */
  path: string;
  pathOffset: number;
  /** Still percent-encoded, without the `?`; empty when there is none. */
  query: string;
  queryOffset: number;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/**
 * Splits a URI by hand rather than with WHATWG `URL`, which rewrites non-special URIs (host and path rules) and
 * reports no positions. Surrounding white space (a pasted line break) is ignored. Undefined without `scheme://`.
 */
export function splitUri(uri: string): UriParts | undefined {
  const start = uri.length - uri.trimStart().length;
  const end = uri.trimEnd().length;
  const scheme = SCHEME.exec(uri.slice(start, end));
  if (!scheme) return undefined;
  const hostStart = start + scheme[0].length;
  const fragment = uri.indexOf("#", hostStart);
  const bodyEnd = fragment < 0 || fragment > end ? end : fragment;
  const question = uri.indexOf("?", hostStart);
  const pathEnd = question < 0 || question > bodyEnd ? bodyEnd : question;
  const slash = uri.indexOf("/", hostStart);
  const hostEnd = slash < 0 || slash > pathEnd ? pathEnd : slash;
  return {
    scheme: (scheme[1] as string).toLowerCase(),
    host: uri.slice(hostStart, hostEnd).toLowerCase(),
    path: uri.slice(Math.min(hostEnd + 1, pathEnd), pathEnd),
    pathOffset: hostEnd + 1,
    query: uri.slice(Math.min(pathEnd + 1, bodyEnd), bodyEnd),
    queryOffset: pathEnd + 1,
  };
}
