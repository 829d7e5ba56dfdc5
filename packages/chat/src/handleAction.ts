import type { ChatAction, ChatContext, ChatDeps, ChatReply } from "./ChatTypes.js";
import { cancelRemove, removeLabel } from "./removeLabel.js";
import { showCode } from "./showCode.js";

/**
 * Answers a button press. A code button under a list opens a new message, so the list stays; refresh and the
 * remove buttons answer in place of the message that held them (the old code, the question).
 */
export async function handleAction(ctx: ChatContext, action: ChatAction, deps: ChatDeps): Promise<ChatReply> {
  switch (action.kind) {
    case "code":
      return showCode(ctx, action.label, deps);
    case "refresh":
      return { ...(await showCode(ctx, action.label, deps)), replacesMessage: true };
    case "confirmRemove":
      return { ...(await removeLabel(ctx, action.label, deps)), replacesMessage: true };
    case "cancelRemove":
      return { ...cancelRemove(action.label), replacesMessage: true };
  }
}
