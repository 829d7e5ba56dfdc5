import type { ChatReply } from "./ChatTypes.js";
import { reply } from "./spans.js";

/** A code or a list asked for where others would see the answer. */
export function askPrivatelyReply(): ChatReply {
  return reply("Ask me in a private chat: I never show codes or labels where others can read them.");
}

/**
 * A seed (text or QR photo) sent where others can read it: never registered, since everyone present has seen it.
 * The adapter tries to delete the message and adds what became of it (deleted, or delete it yourself), so this
 * text says neither.
 */
export function publicSeedReply(): ChatReply {
  return {
    ...reply(
      "That message carries a seed, and everyone here can read it. I never register a seed sent here: if others " +
        "may have seen it, set up a new seed with the account's provider. Send seeds only in a private chat with me.",
    ),
    deleteUserMessage: true,
  };
}

/**
 * A photo sent where others can see it: not read, since a QR code there has been seen by everyone present. As for
 * a seed, the adapter says whether it deleted the photo.
 */
export function publicImageReply(): ChatReply {
  return {
    ...reply(
      "I read QR codes only in a private chat with me. If this photo shows a seed, everyone here may have seen it: " +
        "set up a new seed with the account's provider.",
    ),
    deleteUserMessage: true,
  };
}
