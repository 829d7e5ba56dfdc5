import { invalid, TotpError } from "../errors.js";
import type { ClientRule, Policy } from "./Policy.js";
import { principalProblem } from "./principal.js";

/** Who is calling: the authenticated client and the principal the request is for. */
export interface Caller {
  /** The SPIFFE ID of the client certificate. */
  readonly clientId: string;
  /** The principal the request acts for: it owns personal labels and is checked against shared ones. */
  readonly principal: string;
  /** The client is an admin: it manages, and so reads, every shared label. */
  readonly admin: boolean;
  /**
   * The client is a bot acting for a user of its platform: a limit the user's calls run into is the user's, and
   * the bot's connection, which carries every other user's calls too, is not to be cut for it.
   */
  readonly forUser: boolean;
}

const denied = (message: string): TotpError => new TotpError("PERMISSION_DENIED", message);

/**
 * The rule of a client certificate (its SPIFFE ID, undefined when it has none, and its notBefore in ms since the
 * epoch), or why the policy refuses it: no identity, an unknown one, or a certificate issued before the identity's
 * `issuedAfter` (revoked).
 */
export function clientRule(
  policy: Policy,
  clientId: string | undefined,
  notBefore: number,
): { clientId: string; rule: ClientRule } | { refused: string } {
  if (!clientId) return { refused: "a client certificate with exactly one URI SAN, a spiffe:// one, is required" };
  const rule = policy.clients.get(clientId);
  if (rule === undefined) return { refused: `client certificate ${clientId} is not allowed` };
  if (rule.issuedAfter !== undefined && notBefore < rule.issuedAfter) {
    return {
      refused:
        `client certificate ${clientId} issued ${new Date(notBefore).toISOString()} is revoked: the policy accepts ` +
        `only certificates issued from ${new Date(rule.issuedAfter).toISOString()} on`,
    };
  }
  return { clientId, rule };
}

/**
 * The caller of a request, from the client certificate identity and the request's on_behalf_of ("" when unset).
 * - No or unknown identity, or a certificate issued before the identity's `issuedAfter` (revoked): PERMISSION_DENIED
 *   (the SPIFFE ID is not secret, so the message names it). `notBefore` is the certificate's, in ms since the epoch.
 * - A client with `principal` acts as that principal; on_behalf_of must be empty or that very principal, anything
 *   else is PERMISSION_DENIED.
 * - A bot (`actsFor`) must name a user of its platform: missing or malformed on_behalf_of is INVALID_ARGUMENT (a bug
 *   in the bot's request), a well-formed principal of another platform is PERMISSION_DENIED.
 */
export function resolveCaller(
  policy: Policy,
  certificateId: string | undefined,
  onBehalfOf: string,
  notBefore: number,
): Caller {
  const admitted = clientRule(policy, certificateId, notBefore);
  if ("refused" in admitted) throw denied(admitted.refused);
  const { clientId, rule } = admitted;

  if (rule.kind === "principal") {
    if (onBehalfOf !== "" && onBehalfOf !== rule.principal) {
      throw denied(`client ${clientId} acts as ${rule.principal} only; it may not set on_behalf_of to anyone else`);
    }
    return { clientId, principal: rule.principal, admin: rule.admin, forUser: false };
  }

  const expected = `${rule.platform}:<user id>`;
  if (onBehalfOf === "") throw invalid(`on_behalf_of: required for client ${clientId}, expected ${expected}`);
  const problem = principalProblem(onBehalfOf);
  if (problem) throw invalid(`on_behalf_of: ${problem}`);
  if (!onBehalfOf.startsWith(`${rule.platform}:`)) {
    throw denied(`client ${clientId} acts for ${rule.platform} users only, not for ${onBehalfOf}`);
  }
  return { clientId, principal: onBehalfOf, admin: false, forUser: true };
}
