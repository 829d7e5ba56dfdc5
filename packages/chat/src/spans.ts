import type { ChatReply, TextSpan } from "./ChatTypes.js";

export const text = (value: string): TextSpan => ({ kind: "text", text: value });
export const label = (value: string): TextSpan => ({ kind: "label", text: value });
export const strong = (value: string): TextSpan => ({ kind: "strong", text: value });
export const command = (value: string): TextSpan => ({ kind: "command", text: value });

/** A reply of the given paragraphs; a string becomes a paragraph of one text span. */
export function reply(...paragraphs: (TextSpan[] | string)[]): ChatReply {
  return { paragraphs: paragraphs.map((p) => (typeof p === "string" ? [text(p)] : p)) };
}
