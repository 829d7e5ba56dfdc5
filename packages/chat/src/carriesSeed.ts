import { looksLikeSeed } from "@totp-custody/contract";
import { parseCommand } from "./parseCommand.js";

/**
 * Whether a text message is to be deleted as soon as it arrives, before the allowlist or anything else: it looks
 * like a seed, or it is an `add` or `import` with something in the seed's place (`add shop hunter2` is a secret
 * the user meant to register, even if it is no valid seed). The command core asks the same of the messages it
 * answers; this answers it for those it never sees (a sender the allowlist refuses).
 */
export function carriesSeed(text: string): boolean {
  if (looksLikeSeed(text)) return true;
  const command = parseCommand(text);
  return (command.kind === "add" && command.seed !== "") || (command.kind === "import" && command.uri !== "");
}
