import type { ChatReply } from "./ChatTypes.js";
import { command, reply, text } from "./spans.js";

/** A label refused before any call; `usage` is the command's syntax. The label itself is never repeated. */
export function invalidLabelReply(label: string, problem: string, usage: string): ChatReply {
  const why = label === "" ? "Name a label: " : `That label is not valid: ${problem}. Use `;
  return reply([text(why), command(usage), text(".")]);
}
