import { createHash } from "node:crypto";
import { invalid } from "./errors.js";
import { isLabelName } from "./policy/labelName.js";

/** A listing shows the caller's personal labels first, then the shared labels the caller may read. */
export type PagePhase = "personal" | "shared";

/** Where a listing resumes: after label `after` ("" for the phase's first label) of phase `phase`. */
export interface PageCursor {
  phase: PagePhase;
  after: string;
}

export const FIRST_PAGE: PageCursor = { phase: "personal", after: "" };

/*
 * A token is the cursor itself (keyset paging: the last label answered), not an offset, so deleting labels already
 * seen does not shift the next page, and any replica, before or after a restart, can resume it. It carries no
 * signature, because none would protect anything: the listing is always of the caller's own labels (the store path
 * comes from the authenticated principal, shared labels are filtered by the policy at each page), and every cursor a
 * caller could forge, any label name in either phase, is one the caller may legitimately start from. So a token
 * from principal A lets B list only B's labels. What the token checks instead: its shape (a label name, a known
 * phase; nothing else is accepted or used), and a digest of the principal it was issued to, so that a bot mixing
 * up two users' tokens gets INVALID_ARGUMENT instead of a silently shifted listing. A digest rather than the
 * principal, so that a token pasted into a log does not name its user.
 */
const VERSION = 1;

const callerDigest = (principal: string) =>
  createHash("sha256").update(`totp-custody page token\n${principal}`).digest("base64url").slice(0, 16);

/** An opaque token resuming the listing of `principal` at `cursor`. */
export function encodePageToken(principal: string, cursor: PageCursor): string {
  const body = { v: VERSION, p: cursor.phase, a: cursor.after, c: callerDigest(principal) };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/** The cursor a token resumes at (the first page for an empty token); INVALID_ARGUMENT for anything else. */
export function decodePageToken(principal: string, token: string): PageCursor {
  if (token === "") return FIRST_PAGE;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    body = undefined;
  }
  const { v, p, a, c } = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const phase = p === "personal" || p === "shared" ? p : undefined;
  const after = typeof a === "string" && (a === "" || isLabelName(a)) ? a : undefined;
  if (v !== VERSION || phase === undefined || after === undefined || c !== callerDigest(principal)) {
    throw invalid(
      "page_token: not a token of this listing (issued for another caller, or damaged); list from the start",
    );
  }
  return { phase, after };
}
