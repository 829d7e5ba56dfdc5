import type { ChatContext, ChatDeps, ChatReply } from "./ChatTypes.js";
import { errorReply } from "./errorReply.js";
import { invalidLabelReply } from "./invalidLabelReply.js";
import { labelProblem } from "./labelRule.js";
import { principalOf } from "./principalOf.js";
import { label as labelSpan, reply, text } from "./spans.js";

const USAGE = "remove <label>";

/** The confirm step: nothing is removed until the user confirms, by button or by `remove <label> confirm`. */
export function askRemove(label: string): ChatReply {
  const problem = labelProblem(label);
  if (problem !== undefined) return invalidLabelReply(label, problem, USAGE);
  return {
    ...reply([
      text("Remove "),
      labelSpan(label),
      text("? Its seed is deleted from totp-core and its codes stop at once."),
    ]),
    buttons: [
      [
        { text: "Remove", action: { kind: "confirmRemove", label } },
        { text: "Cancel", action: { kind: "cancelRemove", label } },
      ],
    ],
  };
}

/** Removes `label`, confirmed. */
export async function removeLabel(ctx: ChatContext, label: string, deps: ChatDeps): Promise<ChatReply> {
  const problem = labelProblem(label);
  if (problem !== undefined) return invalidLabelReply(label, problem, USAGE);
  const principal = principalOf(ctx);
  try {
    await deps.client.deleteSeed({ label, onBehalfOf: principal });
    return reply([text("Removed "), labelSpan(label), text(".")]);
  } catch (err) {
    return errorReply(err, { label, principal });
  }
}

export function cancelRemove(label: string): ChatReply {
  return reply([text("Nothing was removed: "), labelSpan(label), text(" stays.")]);
}
