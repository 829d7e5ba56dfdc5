import { type LabelInfo, SeedSpec } from "@totp-custody/client";
import type { ChatContext, ChatDeps, ChatReply, TextSpan } from "./ChatTypes.js";
import { errorReply } from "./errorReply.js";
import { invalidLabelReply } from "./invalidLabelReply.js";
import { labelProblem } from "./labelRule.js";
import { principalOf } from "./principalOf.js";
import { publicSeedReply } from "./privacyReplies.js";
import { command, label as labelSpan, reply, text } from "./spans.js";

const USAGE = "add <label> <otpauth URI or base32>";

/** How a stored label is described after add and import: name, issuer and account, and whose it is. */
export function storedLabel(info: LabelInfo): TextSpan[] {
  const about = [info.issuer, info.account].filter((part) => part !== "").join(", ");
  return [
    labelSpan(info.label),
    text(`${about === "" ? "" : ` (${about})`}, ${info.digits} digits every ${info.period} s`),
    ...(info.shared ? [text(", a team label")] : []),
  ];
}

/**
 * Registers `seed` (an otpauth:// URI or a base32 secret) under `label`. Every reply asks to delete the user's
 * message, success or not: it carried a seed, or something meant to be one.
 */
export async function addSeed(ctx: ChatContext, label: string, seed: string, deps: ChatDeps): Promise<ChatReply> {
  const answer = await register(ctx, label, seed.trim(), deps);
  return { ...answer, deleteUserMessage: true };
}

async function register(ctx: ChatContext, label: string, seed: string, deps: ChatDeps): Promise<ChatReply> {
  if (ctx.origin === "public") return publicSeedReply();
  const problem = labelProblem(label);
  if (problem !== undefined) return invalidLabelReply(label, problem, USAGE);
  if (seed === "") return reply([text("Send the seed after the label: "), command(USAGE), text(".")]);
  if (/^otpauth-migration:/i.test(seed)) {
    return reply([
      text("That is a Google Authenticator export: send it with "),
      command("import <otpauth-migration URI>"),
      text("."),
    ]);
  }
  const principal = principalOf(ctx);
  // A bare secret gets the defaults (SHA1, 6 digits, 30 s), as authenticator apps give it.
  const source = /^otpauth:/i.test(seed)
    ? { otpauthUri: seed }
    : { spec: SeedSpec.fromPartial({ secretBase32: seed }) };
  try {
    const { info } = await deps.client.registerSeed({ label, onBehalfOf: principal, ...source });
    return reply([
      text("Stored "),
      ...(info ? storedLabel(info) : [labelSpan(label)]),
      text(". Get its code with "),
      command(`code ${label}`),
      text("."),
    ]);
  } catch (err) {
    return errorReply(err, { label, principal });
  }
}
