import { actionCommand, type ChatButton, type ChatReply, type CodeDisplay, type TextSpan } from "@totp-custody/chat";

/**
 * Zulip markdown for the command core's replies. Text is escaped, so a label or a message from totp-core cannot
 * turn into markup (a mention, a link, a fence); commands are inline code, to be typed as shown; a code goes only
 * into the body of a spoiler block, whose header line everyone sees.
 */

/**
 * Characters that open markup anywhere in a line (emphasis, code, links; a mention `@**name**` and a stream link
 * `#**name**` need the `*`). Only characters markdown lets a backslash escape: before others it would show.
 */
const INLINE_MARKUP = /[\\`*_[\]]/g;
/** A heading, quote or list at the start of a line: its marker is escaped. */
const LINE_MARKER = /^(\s*)([#>+-])/gm;
const NUMBERED = /^(\s*\d+)([.)])/gm;

export function escapeMarkdown(text: string): string {
  return text
    .replace(INLINE_MARKUP, (c) => `\\${c}`)
    .replace(LINE_MARKER, "$1\\$2")
    .replace(NUMBERED, "$1\\$2");
}

/** Inline code, with a fence longer than any run of backticks inside. */
function inlineCode(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  return longest === 0 ? `${fence}${text}${fence}` : `${fence} ${text} ${fence}`;
}

function renderSpan(span: TextSpan): string {
  switch (span.kind) {
    case "text":
      return escapeMarkdown(span.text);
    case "label":
    case "strong":
      return `**${escapeMarkdown(span.text)}**`;
    case "command":
      return inlineCode(span.text);
  }
}

/** A row of buttons as the commands that do the same; cancel is doing nothing, so it needs no line. */
function renderButtons(row: ChatButton[]): string | undefined {
  const parts = row.flatMap((button) => {
    const command = actionCommand(button.action);
    return command === undefined ? [] : [`${escapeMarkdown(button.text)}: send ${inlineCode(command)}`];
  });
  return parts.length === 0 ? undefined : parts.join(" · ");
}

/** The spoiler holding the code: a header without the code, the code alone in the body. */
export function codeSpoiler(code: CodeDisplay): string {
  return ["```spoiler Show the code", inlineCode(code.code), "```"].join("\n");
}

export interface RenderOptions {
  /**
   * Whether the bot deleted the user's message, which carried a seed; undefined: it had no reason to. Zulip lets a
   * bot delete others' messages only where the realm allows it; otherwise the user is asked to.
   */
  userMessageDeleted?: boolean | undefined;
}

/** The reply as one Zulip message. */
export function renderReply(reply: ChatReply, options: RenderOptions = {}): string {
  const lines = reply.paragraphs.map((paragraph) => paragraph.map(renderSpan).join(""));
  // After the line that names the label, before the time left.
  if (reply.code) lines.splice(Math.min(1, lines.length), 0, codeSpoiler(reply.code));
  for (const row of reply.buttons ?? []) {
    const line = renderButtons(row);
    if (line !== undefined) lines.push(line);
  }
  if (options.userMessageDeleted !== undefined) {
    lines.push(
      options.userMessageDeleted
        ? "I deleted your message: it carried a seed."
        : "**I could not delete your message: delete it yourself now**, it carries a seed.",
    );
  }
  return lines.join("\n");
}

/** What a code message becomes when its code expires. */
export function renderExpired(code: CodeDisplay): string {
  return `The code for **${escapeMarkdown(code.label)}** has expired. Send ${inlineCode(`code ${code.label}`)} for a new one.`;
}
