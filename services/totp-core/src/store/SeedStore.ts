import type { CodeWindow, LabelMeta, LabelRef, Owner, SeedInput } from "../seed.js";
import type { LabelPage, PageRequest } from "./labelPage.js";

/**
 * Where seeds live. Every implementation passes the same contract suite (test/store-contract.ts).
 * Failures to reach the backing service throw TotpError UNAVAILABLE; nothing a backend says reaches the message.
 */
export interface SeedStore {
  /** "vault-kv", "vault-totp" or "file", for logs and metrics. */
  readonly kind: string;
  /**
   * Stores a seed. Throws TotpError ALREADY_EXISTS when the label exists and `overwrite` is false; of several
   * concurrent creations of one label exactly one succeeds. Answers the stored metadata.
   */
  put(ref: LabelRef, seed: SeedInput, registeredBy: string, overwrite: boolean): Promise<LabelMeta>;
  /**
   * The codes at `atMs` (Unix milliseconds), or undefined when the label does not exist. A store whose backend
   * makes the codes with its own clock (vault-totp) answers for the moment of the call, with the window of the step
   * it used and an empty `nextCode`.
   */
  codes(ref: LabelRef, atMs: number): Promise<{ meta: LabelMeta; window: CodeWindow } | undefined>;
  /** The metadata of one label, or undefined. */
  info(ref: LabelRef): Promise<LabelMeta | undefined>;
  /**
   * One page of one owner's live labels (the shared owner lists every shared label stored), sorted by label: those
   * after `request.after`, at most `request.limit`. Keyset paging, so a label that lives through a whole listing
   * is answered exactly once whatever is added or removed meanwhile. Never reads a seed where the backend can
   * avoid it, and costs about one metadata read per label answered, not per label the owner holds.
   */
  page(owner: Owner, request: PageRequest): Promise<LabelPage>;
  /** Removes a label; false when it did not exist. */
  remove(ref: LabelRef): Promise<boolean>;
  /** Resolves when the backing service answers and can serve; throws TotpError UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  /** Releases timers and connections. */
  close(): Promise<void>;
}
