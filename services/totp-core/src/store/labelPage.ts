import { isLabelName } from "../policy/labelName.js";
import type { LabelMeta } from "../seed.js";

/** Which part of an owner's labels a listing wants: those after a label, in label order. */
export interface PageRequest {
  /** Only labels sorting after this one ("" for the first page); it need not exist any more. */
  after: string;
  /** The most labels to answer; 0 only asks whether any label follows `after`. */
  limit: number;
  /** Leaves out labels by name before anything is read about them (shared labels the caller may not read). */
  include?: (label: string) => boolean;
}

/**
 * Names of an owner's labels from `after` on, as a backend lists them: at least the first `limit` names after
 * `after` unless `complete` (none follows those answered). A backend may answer more, in any order, even names
 * before `after` (HashiCorp Vault has no paginated LIST), and names deleted since or that are not labels.
 */
export type NameSource = (after: string, limit: number) => Promise<{ names: string[]; complete: boolean }>;

/** The fewest names one LIST asks for: a shared listing filters most names out by policy. */
const NAMES_PER_LIST = 100;

export interface LabelPage {
  /** Sorted by label (byte order, which is code point order for label names). */
  labels: LabelMeta[];
  /** Whether a live label follows the last one answered. */
  more: boolean;
}

/**
 * How many labels a page describes at once. A page of 1000 must not send 1000 requests to Vault together (the
 * issue that made large listings time out); a few in flight keep a page's latency near a handful of round trips.
 */
export const DESCRIBE_IN_FLIGHT = 16;

/**
 * One page of an owner's labels: the live labels after `request.after`, named by `source` a window at a time and
 * described with `describe` (undefined for a label deleted since it was named) in batches of at most
 * DESCRIBE_IN_FLIGHT, stopping at `limit + 1` live ones, so a page costs about its size in requests whatever the
 * owner holds. The extra label only tells whether more follow.
 */
export async function collectPage(
  source: NameSource,
  request: PageRequest,
  describe: (label: string) => Promise<LabelMeta | undefined>,
): Promise<LabelPage> {
  const include = request.include ?? (() => true);
  const wanted = request.limit + 1;
  const found: LabelMeta[] = [];
  for (let cursor = request.after; found.length < wanted; ) {
    const window = await source(cursor, Math.max(NAMES_PER_LIST, wanted - found.length));
    const after = cursor;
    const named = window.names.filter((name) => name > after).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const candidates = named.filter((name) => isLabelName(name) && include(name));
    for (let next = 0; found.length < wanted && next < candidates.length; ) {
      const batch = candidates.slice(next, next + Math.min(DESCRIBE_IN_FLIGHT, wanted - found.length));
      next += batch.length;
      for (const meta of await Promise.all(batch.map(describe))) if (meta) found.push(meta);
    }
    // Nothing new named also ends a backend that ignores the window and answers the same names again.
    const last = named.at(-1);
    if (window.complete || last === undefined) break;
    cursor = last;
  }
  return { labels: found.slice(0, request.limit), more: found.length > request.limit };
}
