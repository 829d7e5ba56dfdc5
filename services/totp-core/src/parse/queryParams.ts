import { invalid } from "../errors.js";
import { percentDecode } from "./percentDecode.js";

/**
 * The percent-decoded values of the `known` parameters of a query (names matched case-insensitively). Other
 * parameters are skipped without being decoded, so that what we ignore cannot fail. A known parameter given twice
 * is refused: which one would win is a guess. `offset` is where `query` starts in the URI, for positions.
 */
export function queryParams<K extends string>(query: string, offset: number, known: readonly K[]): Map<K, string> {
  const found = new Map<K, string>();
  let start = 0;
  while (start < query.length) {
    const amp = query.indexOf("&", start);
    const end = amp < 0 ? query.length : amp;
    const eq = query.indexOf("=", start);
    const nameEnd = eq < 0 || eq > end ? end : eq;
    const name = query.slice(start, nameEnd).toLowerCase();
    const key = known.find((k) => k === name);
    if (key !== undefined) {
      if (found.has(key)) throw invalid(`the ${key} parameter appears more than once`);
      const valueStart = Math.min(nameEnd + 1, end);
      found.set(key, percentDecode(query.slice(valueStart, end), `the ${key} parameter`, offset + valueStart));
    }
    start = end + 1;
  }
  return found;
}
