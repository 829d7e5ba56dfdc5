import type { LabelInfo } from "@totp-custody/client";
import type { ChatButton, ChatContext, ChatDeps, ChatReply, TextSpan } from "./ChatTypes.js";
import { errorReply } from "./errorReply.js";
import { principalOf } from "./principalOf.js";
import { askPrivatelyReply } from "./privacyReplies.js";
import { command, label, reply, strong, text } from "./spans.js";

/**
 * At most this many labels in one reply: Telegram takes 100 buttons under a message and 4096 characters in it.
 * Labels past it are still reachable with `code <label>`.
 */
export const MAX_LISTED = 50;
/** Pages read at most, should a store answer short pages: the reply is bounded whatever the core does. */
const MAX_PAGES = 10;

function describe(info: LabelInfo): TextSpan[] {
  const about = [info.issuer, info.account].filter((part) => part !== "").join(", ");
  return [label(info.label), ...(about === "" ? [] : [text(`: ${about}`)])];
}

/** The labels the user may read, personal ones and team ones apart, with a code button for each. */
export async function listLabels(ctx: ChatContext, deps: ChatDeps): Promise<ChatReply> {
  if (ctx.origin === "public" && !ctx.answersPrivately) return askPrivatelyReply();
  const principal = principalOf(ctx);
  const labels: LabelInfo[] = [];
  let more = false;
  try {
    let pageToken = "";
    let pages = 0;
    do {
      pages++;
      const page = await deps.client.listLabels({ onBehalfOf: principal, pageSize: MAX_LISTED + 1, pageToken });
      labels.push(...page.labels);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && labels.length <= MAX_LISTED && pages < MAX_PAGES);
    more = pageToken !== "" || labels.length > MAX_LISTED;
  } catch (err) {
    return errorReply(err, { principal });
  }
  if (labels.length === 0) {
    return reply([
      text("You have no labels yet. Add one with "),
      command("add <label> <otpauth URI>"),
      text(", or send a photo of its QR code with the label as caption."),
    ]);
  }
  const shown = labels.slice(0, MAX_LISTED);
  const personal = shown.filter((info) => !info.shared);
  const team = shown.filter((info) => info.shared);
  const paragraphs: TextSpan[][] = [];
  if (personal.length > 0) paragraphs.push([strong("Your labels")], ...personal.map(describe));
  if (team.length > 0) paragraphs.push([strong("Team labels (shared)")], ...team.map(describe));
  if (more) {
    paragraphs.push([
      text(`Only the first ${MAX_LISTED} are shown; use `),
      command("code <label>"),
      text(" for the others."),
    ]);
  }
  const buttons: ChatButton[][] = [...personal, ...team].map((info) => [
    { text: info.shared ? `${info.label} (team)` : info.label, action: { kind: "code", label: info.label } },
  ]);
  return { paragraphs, buttons };
}
