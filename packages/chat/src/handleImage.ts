import { addSeed } from "./addSeed.js";
import type { ChatContext, ChatDeps, ChatReply } from "./ChatTypes.js";
import { decodeQrImage, ImageError } from "./decodeQrImage.js";
import { importSeeds } from "./importSeeds.js";
import { labelProblem } from "./labelRule.js";
import { publicImageReply } from "./privacyReplies.js";
import { command, reply, text } from "./spans.js";

/**
 * A caption as ImportSeeds' label prefix: the entries' names follow it after a `-`, unless it already ends with a
 * separator ("work" gives work-github-alice).
 */
function prefixOf(caption: string): string {
  return caption === "" || /[._-]$/.test(caption) ? caption : `${caption}-`;
}

async function readImage(ctx: ChatContext, image: Buffer, caption: string, deps: ChatDeps): Promise<ChatReply> {
  let found: string | undefined;
  try {
    found = decodeQrImage(image);
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    return reply(`I could not read that image: ${err.message}. Send a photo or a screenshot of the QR code.`);
  }
  if (found === undefined) {
    return reply("I found no QR code in that image. Send a sharper photo, or a screenshot, with the whole code in it.");
  }
  const problem = caption === "" ? undefined : labelProblem(caption);
  if (problem !== undefined) {
    return reply(`That caption is not a valid label: ${problem}. Send the photo again with a label as caption.`);
  }
  if (/^otpauth-migration:/i.test(found)) return importSeeds(ctx, found, prefixOf(caption), deps);
  if (/^otpauth:/i.test(found)) {
    if (caption === "") {
      return reply([
        text(
          "That QR code holds a seed, but I need a label for it: send the photo again with the label as caption, " +
            "or use ",
        ),
        command("add <label> <otpauth URI>"),
        text("."),
      ]);
    }
    return addSeed(ctx, caption, found, deps);
  }
  // Not echoed: whatever the code holds is the user's business, and may be a secret of another kind.
  return reply("That QR code holds no otpauth:// seed or otpauth-migration:// export.");
}

/**
 * Answers an image (a photo of a QR code): an otpauth:// code is registered under the caption; an
 * otpauth-migration:// export is imported whole, the caption (optional) prefixing each label. The user's message
 * is always to be deleted: even an image the decoder cannot read may show a seed.
 */
export async function handleImage(
  ctx: ChatContext,
  image: Buffer,
  caption: string | undefined,
  deps: ChatDeps,
): Promise<ChatReply> {
  if (ctx.origin === "public") return publicImageReply();
  return { ...(await readImage(ctx, image, (caption ?? "").trim(), deps)), deleteUserMessage: true };
}
