import type { ChatContext, ChatDeps, ChatReply } from "./ChatTypes.js";
import { errorReply } from "./errorReply.js";
import { invalidLabelReply } from "./invalidLabelReply.js";
import { labelProblem } from "./labelRule.js";
import { principalOf } from "./principalOf.js";
import { askPrivatelyReply } from "./privacyReplies.js";
import { label as labelSpan, reply, text } from "./spans.js";

/**
 * The current code of `label`, for the CodeDisplay only: the paragraphs name the label and the time left, never
 * the code, so an adapter that shows paragraphs plainly cannot leak it.
 */
export async function showCode(ctx: ChatContext, label: string, deps: ChatDeps): Promise<ChatReply> {
  if (ctx.origin === "public" && !ctx.answersPrivately) return askPrivatelyReply();
  const problem = labelProblem(label);
  if (problem !== undefined) return invalidLabelReply(label, problem, "code <label>");
  const principal = principalOf(ctx);
  try {
    const answer = await deps.client.generateCode({ label, onBehalfOf: principal });
    const serverTime = answer.serverTime ?? new Date();
    const validUntil = answer.validUntil ?? serverTime;
    const leftMs = Math.max(0, validUntil.getTime() - serverTime.getTime());
    const now = deps.now?.() ?? new Date();
    const about = [answer.issuer, answer.account].filter((part) => part !== "").join(", ");
    return {
      ...reply(
        [text("Code for "), labelSpan(label), ...(about === "" ? [] : [text(` (${about})`)])],
        `Valid for ${Math.ceil(leftMs / 1000)} more seconds.`,
      ),
      code: {
        label,
        code: answer.code,
        issuer: answer.issuer,
        account: answer.account,
        period: answer.period,
        validUntil,
        serverTime,
        expiresAt: new Date(now.getTime() + leftMs),
      },
      buttons: [[{ text: "Refresh", action: { kind: "refresh", label } }]],
    };
  } catch (err) {
    return errorReply(err, { label, principal });
  }
}
