import type { ChatContext } from "./ChatTypes.js";

/** Who totp-core serves a chat user as: the principal an operator names in the policy. */
export function principalOf(ctx: ChatContext): string {
  return `${ctx.platform}:${ctx.userId}`;
}
