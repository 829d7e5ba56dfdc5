import type { Platform } from "./principal.js";

/** What a client certificate may do, by its identity. */
export type ClientRule =
  /** A bot that speaks for the users of one platform: each request names the user in on_behalf_of. */
  (
    | { readonly kind: "actsFor"; readonly platform: Exclude<Platform, "service"> }
    /** A service that always acts as one principal; an admin manages every shared label. */
    | { readonly kind: "principal"; readonly principal: string; readonly admin: boolean }
  ) & {
    /**
     * Certificates of this identity issued (notBefore) earlier than this are refused, in ms since the epoch: how one
     * stolen certificate is revoked while its replacement, issued later, keeps working.
     */
    readonly issuedAfter?: number;
  };

/** One team label, with groups already expanded to principals. */
export interface SharedLabel {
  /** Who may read: the readers and the managers. */
  readonly readers: ReadonlySet<string>;
  /** Who may register, overwrite and delete. */
  readonly managers: ReadonlySet<string>;
}

/**
 * A validated policy, compiled by `parsePolicy` into maps so that every authorization question is a lookup:
 * GenerateCode asks on every request.
 */
export interface Policy {
  /** By client certificate identity (the SPIFFE ID in the URI SAN). */
  readonly clients: ReadonlyMap<string, ClientRule>;
  /** By label name. A label absent here is personal. */
  readonly shared: ReadonlyMap<string, SharedLabel>;
  /** The shared labels each principal may read, sorted, so ListLabels needs no scan. */
  readonly sharedByReader: ReadonlyMap<string, readonly string[]>;
  /** Every shared label, sorted: what an admin reads. */
  readonly sharedLabels: readonly string[];
  /** Whether principals may register personal labels. */
  readonly selfService: boolean;
}
