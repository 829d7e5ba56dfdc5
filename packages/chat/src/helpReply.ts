import type { ChatContext, ChatReply, TextSpan } from "./ChatTypes.js";
import { principalOf } from "./principalOf.js";
import { command, reply, strong, text } from "./spans.js";

const COMMANDS: [string, string][] = [
  ["list", "your labels and your team's, with a button for each code"],
  ["code <label>", "the current code of a label"],
  ["add <label> <otpauth URI or base32>", "store a seed under a label"],
  ["import <otpauth-migration URI>", "import a Google Authenticator export"],
  ["remove <label>", "remove a label (asks to confirm first)"],
  ["whoami", "your principal, for the operator"],
  ["help", "this message"],
];

const principalLine = (ctx: ChatContext): TextSpan[] => [
  text("Your principal is "),
  strong(principalOf(ctx)),
  text(": an operator puts it in totp-core's policy to give you your team's labels."),
];

/** What the bot does, its commands, how to add a seed without leaving it in the chat, and the user's principal. */
export function helpReply(ctx: ChatContext): ChatReply {
  return reply(
    "I give you two-factor codes (TOTP) for your own accounts and your team's. The seeds are kept by totp-core, " +
      "never by me, and only codes come back.",
    ...COMMANDS.map(([syntax, meaning]): TextSpan[] => [command(syntax), text(`: ${meaning}`)]),
    [
      text(
        "To add a seed safely, in a private chat with me: send a photo of its QR code with the label as caption, " +
          "or ",
      ),
      command("add <label> <otpauth URI>"),
      text(
        " (the URI carries the issuer, digits and period; a bare base32 secret gets the defaults). I delete " +
          "every message that carries a seed as soon as I have read it; if I cannot, delete it yourself.",
      ),
    ],
    principalLine(ctx),
  );
}

/** The principal an operator puts in the policy's groups. */
export function whoamiReply(ctx: ChatContext): ChatReply {
  return reply(principalLine(ctx));
}

/** For unknown commands and plain text. */
export function hintReply(unknownCommand: boolean): ChatReply {
  return reply([
    text(unknownCommand ? "I don't know that command. Send " : "Send "),
    command("help"),
    text(" to see what I can do."),
  ]);
}

/** A seed sent without a command: how to store one. */
export function seedHintReply(): ChatReply {
  return reply([
    text("That looks like a seed. To store it, send "),
    command("add <label> <otpauth URI or base32>"),
    text(", or a photo of its QR code with the label as caption."),
  ]);
}

/** For a sender the bot's allowlist does not name: totp-core is not called; the principal lets an operator add them. */
export function notAllowedReply(ctx: ChatContext): ChatReply {
  return reply("Sorry, this bot answers only the people its operator listed, and you are not among them yet.", [
    text("If you need it, ask an operator to add you; your principal is "),
    strong(principalOf(ctx)),
    text("."),
  ]);
}
