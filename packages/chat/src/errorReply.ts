import { TotpClientError } from "@totp-custody/client";
import type { ChatReply } from "./ChatTypes.js";
import { command, label, reply, strong, text } from "./spans.js";

/** What the failed call was about, for the wording: the label it named, if any, and the user's principal. */
export interface ErrorSubject {
  label?: string;
  principal: string;
}

const GENERIC = "Something went wrong on my side. Please try again later.";

/**
 * The one mapping from a failed totp-core call to what the user reads. The core's own message is shown only for
 * INVALID_ARGUMENT, where it says precisely what is wrong with a seed or label and never quotes a seed; everything
 * else gets fixed wording, so no stack, address or internal detail reaches a chat.
 */
export function errorReply(err: unknown, subject: ErrorSubject): ChatReply {
  if (!(err instanceof TotpClientError)) return reply(GENERIC);
  const named = subject.label === undefined ? [text("such label")] : [text("label "), label(subject.label)];
  switch (err.codeName) {
    case "NOT_FOUND":
      // The core answers the same for a label that exists but is not the user's: no existence oracle here either.
      return reply([
        text("There is no "),
        ...named,
        text(" you can read. Send "),
        command("list"),
        text(" to see yours."),
      ]);
    case "PERMISSION_DENIED":
      return reply([
        text("You are not allowed to do that. An operator can allow it for your principal, "),
        strong(subject.principal),
        text("."),
      ]);
    case "RESOURCE_EXHAUSTED":
      // A rate limit says how long to wait; the same status without a delay is grpc-js refusing an oversized message.
      if (err.retryAfterMs === undefined) return reply("That message is too large for me.");
      return reply(`Too many requests. Try again in ${Math.max(1, Math.ceil(err.retryAfterMs / 1000))} s.`);
    case "INVALID_ARGUMENT":
      return reply(`That was refused: ${err.message.replace(/\.$/, "")}.`);
    case "ALREADY_EXISTS":
      return reply([
        ...(subject.label === undefined ? [text("That label")] : [text("Label "), label(subject.label)]),
        text(" already exists. Overwriting is not offered here: remove it first with "),
        command(subject.label === undefined ? "remove <label>" : `remove ${subject.label}`),
        text(", then add it again."),
      ]);
    case "UNAVAILABLE":
    case "DEADLINE_EXCEEDED":
      return {
        ...reply("The code service is unavailable right now. Please try again in a moment."),
        coreUnavailable: true,
      };
    default:
      return reply(GENERIC);
  }
}
