import { looksLikeSeed } from "@totp-custody/contract";
import { addSeed } from "./addSeed.js";
import type { ChatContext, ChatDeps, ChatReply } from "./ChatTypes.js";
import { helpReply, hintReply, seedHintReply, whoamiReply } from "./helpReply.js";
import { importSeeds } from "./importSeeds.js";
import { listLabels } from "./listLabels.js";
import { parseCommand } from "./parseCommand.js";
import { publicSeedReply } from "./privacyReplies.js";
import { askRemove, removeLabel } from "./removeLabel.js";
import { showCode } from "./showCode.js";

async function answer(ctx: ChatContext, text: string, deps: ChatDeps): Promise<ChatReply> {
  const parsed = parseCommand(text);
  switch (parsed.kind) {
    case "start":
    case "help":
      return helpReply(ctx);
    case "whoami":
      return whoamiReply(ctx);
    case "list":
      return listLabels(ctx, deps);
    case "code":
      return showCode(ctx, parsed.label, deps);
    case "add":
      return addSeed(ctx, parsed.label, parsed.seed, deps);
    case "import":
      return importSeeds(ctx, parsed.uri, "", deps);
    case "remove":
      return parsed.confirmed ? removeLabel(ctx, parsed.label, deps) : askRemove(parsed.label);
    case "unknown":
    case "text":
      return hintReply(parsed.kind === "unknown");
  }
}

/**
 * Answers a text message: the command in it, the adapter having removed its own syntax. A message that carries a
 * seed, whatever the command (a secret pasted as plain text, a URI after `code`), asks for its deletion; in a
 * public chat it is never registered, and the adapter says whether it deleted it or the user must.
 */
export async function handleMessage(ctx: ChatContext, text: string, deps: ChatDeps): Promise<ChatReply> {
  if (!looksLikeSeed(text)) return answer(ctx, text, deps);
  if (ctx.origin === "public") return publicSeedReply();
  const parsed = parseCommand(text).kind;
  const answered = parsed === "unknown" || parsed === "text" ? seedHintReply() : await answer(ctx, text, deps);
  return { ...answered, deleteUserMessage: true };
}
