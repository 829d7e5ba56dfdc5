import {
  type ChatDeps,
  type ChatReply,
  carriesSeed,
  errorReply,
  handleAction,
  handleImage,
  handleMessage,
  notAllowedReply,
  principalOf,
  untilCoreAnswers,
} from "@totp-custody/chat";
import type { Logger } from "pino";
import { type Telegram, TelegramError } from "telegraf";
import type { CodeExpiry } from "./CodeExpiry.js";
import { type Deletion, renderReply, type TelegramMessage } from "./renderReply.js";
import type { BotInput, Place } from "./routeUpdate.js";

import { withTelegramRetry } from "./withTelegramRetry.js";

/** Telegram lets bots download files up to 20 MB; a QR code photo is far smaller. */
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

export interface AnswerDeps {
  telegram: Telegram;
  chat: ChatDeps;
  expiry: CodeExpiry;
  allowedUsers: ReadonlySet<string> | undefined;
  log: Logger;
  /** Aborted at shutdown: an update held for an unreachable core is then answered at once. */
  stopping: AbortSignal;
}

/** A Bot API call, with 429 and 5xx waited out; the log learns of each wait (method and delay, nothing else). */
function call<T>(deps: AnswerDeps, method: string, run: () => Promise<T>): Promise<T> {
  return withTelegramRetry(run, {
    onWait: (waitMs, err) =>
      deps.log.warn(
        // Telegram's status (TelegramError) or the connection's error code (node-fetch's FetchError).
        { method, waitMs, code: (err as { code?: unknown }).code },
        "Bot API call failed (flood control, a 5xx or no connection); trying again after the wait",
      ),
  });
}

/** Whether `err` is Telegram's 400 with a description that matches `pattern`. */
const badRequest = (pattern: RegExp) => (err: unknown) =>
  err instanceof TelegramError && err.code === 400 && pattern.test(err.description);
const isNotModified = badRequest(/message is not modified/i);
const isAlreadyGone = badRequest(/message to delete not found/i);

async function downloadImage(deps: AnswerDeps, fileId: string): Promise<Buffer> {
  const link = await call(deps, "getFile", () => deps.telegram.getFileLink(fileId));
  const response = await fetch(link);
  if (!response.ok) throw new Error(`file download answered HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/**
 * The user's message that carried a seed, deleted; "failed" when Telegram refused (an old message, a group). A
 * message Telegram no longer has is as good as deleted: Telegram posts an update again when a delivery failed, and
 * the replica that first had it deleted the message already (or the user did); asking the user to delete a
 * message that is gone would only confuse them.
 */
async function deleteUserMessage(deps: AnswerDeps, place: Place): Promise<Deletion> {
  try {
    await call(deps, "deleteMessage", () => deps.telegram.deleteMessage(place.chatId, place.messageId));
    return "deleted";
  } catch (err) {
    if (isAlreadyGone(err)) return "deleted";
    deps.log.warn({ err, chatId: place.chatId }, "could not delete a message that carried a seed");
    return "failed";
  }
}

async function send(deps: AnswerDeps, chatId: number, message: TelegramMessage): Promise<Place> {
  const sent = await call(deps, "sendMessage", () => deps.telegram.sendMessage(chatId, message.text, message));
  return { chatId, messageId: sent.message_id };
}

/**
 * Shows `message` in place of the one at `place` (a refreshed code, a confirmed removal). Telegram refuses an edit
 * that changes nothing ("message is not modified": a refresh within the same period); the message then already
 * shows it. A message that cannot be edited any more (deleted meanwhile) gets the answer as a new message.
 */
async function replace(deps: AnswerDeps, place: Place, message: TelegramMessage): Promise<Place> {
  try {
    await call(deps, "editMessageText", () =>
      deps.telegram.editMessageText(place.chatId, place.messageId, undefined, message.text, {
        entities: message.entities,
        reply_markup: message.reply_markup,
      }),
    );
    return place;
  } catch (err) {
    if (isNotModified(err)) return place;
    if (!(err instanceof TelegramError) || err.code !== 400) throw err;
    return send(deps, place.chatId, message);
  }
}

type Answerable = Exclude<BotInput, { kind: "ignore" }>;

const EDITED_SEED_REPLY: ChatReply = {
  paragraphs: [
    [{ kind: "text", text: "I read seeds only in new messages, not in edits: send it again as a new message." }],
  ],
};

/** The core's reply to an input; the seed message, if any, is already deleted. */
async function coreReply(deps: AnswerDeps, input: Answerable): Promise<ChatReply> {
  switch (input.kind) {
    case "text":
      return handleMessage(input.ctx, input.text, deps.chat);
    case "edited":
      // In a group the core's own answer to a seed sent there (never registered, set up a new one) is the right one.
      return input.ctx.origin === "public" ? handleMessage(input.ctx, input.text, deps.chat) : EDITED_SEED_REPLY;
    case "action":
      return input.action === undefined
        ? { paragraphs: [[{ kind: "text", text: "That button no longer works: send /list for fresh ones." }]] }
        : handleAction(input.ctx, input.action, deps.chat);
    case "image": {
      if (input.ctx.origin === "public") return handleImage(input.ctx, Buffer.alloc(0), input.caption, deps.chat);
      if ((input.fileSize ?? 0) > MAX_IMAGE_BYTES) {
        return {
          paragraphs: [[{ kind: "text", text: "That image is too large for me: send a photo of the QR code." }]],
          deleteUserMessage: true,
        };
      }
      let image: Buffer;
      try {
        image = await downloadImage(deps, input.fileId);
      } catch (err) {
        // The photo may show a seed: it is deleted already, and the user told to send it again.
        deps.log.warn({ err }, "could not download an image");
        return {
          paragraphs: [[{ kind: "text", text: "I could not fetch that image from Telegram. Please send it again." }]],
          deleteUserMessage: true,
        };
      }
      return handleImage(input.ctx, image, input.caption, deps.chat);
    }
  }
}

/**
 * Whether the user's message may show a seed, read before anything else is done with it: text carriesSeed flags
 * (a seed, or an `add` or `import` with something in the seed's place), any image (even one the decoder cannot
 * read may show a seed), an edit that put a seed in.
 */
function mayShowSeed(input: Answerable): boolean {
  return ((input.kind === "text" || input.kind === "edited") && carriesSeed(input.text)) || input.kind === "image";
}

/** The allowlist, the core's reply (held while the core is unreachable), the answer, the expiry of a shown code. */
async function answerInput(deps: AnswerDeps, input: Answerable, deletion: Deletion | undefined): Promise<void> {
  const { ctx, place } = input;
  if (deps.allowedUsers !== undefined && !deps.allowedUsers.has(ctx.userId)) {
    deps.log.info({ userId: ctx.userId }, "user not in TELEGRAM_ALLOWED_USERS; refused");
    const refusal = renderReply(notAllowedReply(ctx), deletion);
    if (input.kind === "action") {
      await call(deps, "answerCallbackQuery", () =>
        deps.telegram.answerCbQuery(input.queryId, refusal.text.slice(0, 200), { show_alert: true }),
      );
      return;
    }
    await send(deps, place.chatId, refusal);
    return;
  }
  if (input.kind === "action") {
    // Answered first, so the button stops spinning even while the core is slow. Telegram refuses an answer to a
    // query older than about 15 s (the bot was down, or held it through a core restart): the press is still served.
    await call(deps, "answerCallbackQuery", () => deps.telegram.answerCbQuery(input.queryId)).catch((err: unknown) =>
      deps.log.warn({ err }, "could not answer a button press; serving it anyway"),
    );
  }
  const reply = await untilCoreAnswers(() => coreReply(deps, input), { signal: deps.stopping });
  // The core also asks to delete messages that only looked like a seed's place (`/add shop hunter2`).
  const deleted = deletion ?? (reply.deleteUserMessage ? await deleteUserMessage(deps, place) : undefined);
  const message = renderReply(reply, deleted);
  const inPlace = input.kind === "action" && reply.replacesMessage === true;
  const shown = inPlace ? await replace(deps, place, message) : await send(deps, place.chatId, message);
  if (reply.code !== undefined) deps.expiry.schedule(shown, reply.code.label, reply.code.expiresAt);
  else if (inPlace) deps.expiry.cancel(shown);
  deps.log.info(
    { userId: ctx.userId, kind: input.kind, shownCode: reply.code !== undefined, deletion: deleted },
    "answered",
  );
}

/**
 * Answers one routed update end to end, and never rejects. A message that may show a seed is deleted first, before
 * the allowlist, a wait for an unreachable core or a photo's download: it stays in the chat no longer than one
 * deleteMessage, whatever comes after. A failure after that gets the generic apology, which still says what became
 * of the seed message. Never logs a message's text, a seed or a code: only ids and outcomes.
 */
export async function answerUpdate(deps: AnswerDeps, input: BotInput): Promise<void> {
  if (input.kind === "ignore") return;
  const deletion = mayShowSeed(input) ? await deleteUserMessage(deps, input.place) : undefined;
  try {
    await answerInput(deps, input, deletion);
  } catch (err) {
    deps.log.error({ err, kind: input.kind }, "update failed");
    // The same words as for any failure the core does not explain, and never the error's text.
    const apology = renderReply(errorReply(err, { principal: principalOf(input.ctx) }), deletion);
    await send(deps, input.place.chatId, apology).catch((sendErr: unknown) =>
      deps.log.warn({ err: sendErr }, "could not send the apology"),
    );
  }
}
