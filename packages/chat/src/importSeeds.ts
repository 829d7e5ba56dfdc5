import { storedLabel } from "./addSeed.js";
import type { ChatContext, ChatDeps, ChatReply, TextSpan } from "./ChatTypes.js";
import { errorReply } from "./errorReply.js";
import { principalOf } from "./principalOf.js";
import { publicSeedReply } from "./privacyReplies.js";
import { command, reply, strong, text } from "./spans.js";

/**
 * Imports a Google Authenticator export: every entry totp-core can serve becomes a label (`labelPrefix` before
 * the entry's issuer and account), and each refused entry is listed with its position and reason. Every reply asks
 * to delete the user's message: it carried seeds.
 */
export async function importSeeds(
  ctx: ChatContext,
  uri: string,
  labelPrefix: string,
  deps: ChatDeps,
): Promise<ChatReply> {
  const answer = await runImport(ctx, uri.trim(), labelPrefix, deps);
  return { ...answer, deleteUserMessage: true };
}

async function runImport(ctx: ChatContext, uri: string, labelPrefix: string, deps: ChatDeps): Promise<ChatReply> {
  if (ctx.origin === "public") return publicSeedReply();
  if (!/^otpauth-migration:/i.test(uri)) {
    return reply([
      text("Send the export's URI: "),
      command("import <otpauth-migration URI>"),
      text(", or a photo of the export's QR code."),
    ]);
  }
  const principal = principalOf(ctx);
  try {
    const { imported, rejected } = await deps.client.importSeeds({ uri, labelPrefix, onBehalfOf: principal });
    const paragraphs: TextSpan[][] = [];
    paragraphs.push([strong(`Imported ${imported.length} of ${imported.length + rejected.length} entries`)]);
    paragraphs.push(...imported.map(storedLabel));
    for (const refusal of rejected) {
      // The core counts entries from 0; people count from 1, as the app lists them.
      const name = refusal.name === "" ? "" : ` (${refusal.name})`;
      paragraphs.push([text(`Entry ${refusal.index + 1}${name} was not imported: ${refusal.reason}`)]);
    }
    return { paragraphs };
  } catch (err) {
    return errorReply(err, { principal });
  }
}
