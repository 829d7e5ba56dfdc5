import type { ChatAction } from "./ChatTypes.js";
import { isLabel } from "./labelRule.js";

/** Telegram's limit for callback data. */
export const MAX_ACTION_BYTES = 64;

// One letter per action: with the separator, a 48-character label leaves 14 of the 64 bytes unused.
const PREFIX: Record<ChatAction["kind"], string> = {
  code: "c",
  refresh: "r",
  confirmRemove: "d",
  cancelRemove: "k",
};
const KIND = new Map(Object.entries(PREFIX).map(([kind, prefix]) => [prefix, kind as ChatAction["kind"]]));

/** An action as button callback data: at most 64 bytes, and nothing but the action and its label. */
export function encodeAction(action: ChatAction): string {
  return `${PREFIX[action.kind]}:${action.label}`;
}

/**
 * The action in callback data, or undefined for anything this core did not write (old buttons, forged data): a
 * button press carries data the user's client sent, so it is checked like any input.
 */
export function decodeAction(data: string): ChatAction | undefined {
  if (Buffer.byteLength(data) > MAX_ACTION_BYTES) return undefined;
  const separator = data.indexOf(":");
  if (separator < 0) return undefined;
  const kind = KIND.get(data.slice(0, separator));
  const label = data.slice(separator + 1);
  if (kind === undefined || !isLabel(label)) return undefined;
  return { kind, label };
}

/**
 * The text command that does what a button does, for adapters without buttons (Zulip): undefined for cancel, which
 * is doing nothing.
 */
export function actionCommand(action: ChatAction): string | undefined {
  switch (action.kind) {
    case "code":
    case "refresh":
      return `code ${action.label}`;
    case "confirmRemove":
      return `remove ${action.label} confirm`;
    case "cancelRemove":
      return undefined;
  }
}
