import {
  type ChatDeps,
  type ChatReply,
  handleAction,
  handleImage,
  handleMessage,
  looksLikeSeed,
  notAllowedReply,
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
  /** How long an update is held while totp-core is unreachable. */
  coreWaitMs?: number;
}

/** A Bot API call, with 429 and 5xx waited out; the log learns of each wait (method and delay, nothing else). */
function call<T>(deps: AnswerDeps, method: string, run: () => Promise<T>): Promise<T> {
  return withTelegramRetry(run, {
    onWait: (waitMs, err) => deps.log.warn({ method, waitMs, code: err.code }, "Telegram asked to wait; retrying"),
  });
}

const isNotModified = (err: unknown) =>
  err instanceof TelegramError && err.code === 400 && /message is not modified/i.test(err.description);

async function downloadImage(deps: AnswerDeps, fileId: string): Promise<Buffer> {
  const link = await call(deps, "getFile", () => deps.telegram.getFileLink(fileId));
  const response = await fetch(link);
  if (!response.ok) throw new Error(`file download answered HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** The user's message that carried a seed, deleted; "failed" when Telegram refused (an old message, a group). */
async function deleteUserMessage(deps: AnswerDeps, place: Place): Promise<Deletion> {
  try {
    await call(deps, "deleteMessage", () => deps.telegram.deleteMessage(place.chatId, place.messageId));
    return "deleted";
  } catch (err) {
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

async function coreReply(deps: AnswerDeps, input: Exclude<BotInput, { kind: "ignore" }>): Promise<ChatReply> {
  switch (input.kind) {
    case "text":
      return handleMessage(input.ctx, input.text, deps.chat);
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
      const image = await downloadImage(deps, input.fileId);
      return handleImage(input.ctx, image, input.caption, deps.chat);
    }
  }
}

/** A refused user's message that carried a seed is still deleted: it must not stay in the chat. */
function carriesSeed(input: Exclude<BotInput, { kind: "ignore" }>): boolean {
  return (input.kind === "text" && looksLikeSeed(input.text)) || input.kind === "image";
}

/**
 * Answers one routed update end to end: the allowlist, the core's reply (held while the core is unreachable), the
 * deletion of a message that carried a seed, the answer (a new message, or an edit of the pressed one), and the
 * expiry of a shown code. Never logs a message's text, a seed or a code: only ids and outcomes.
 */
export async function answerUpdate(deps: AnswerDeps, input: BotInput): Promise<void> {
  if (input.kind === "ignore") return;
  const { ctx, place } = input;
  if (deps.allowedUsers !== undefined && !deps.allowedUsers.has(ctx.userId)) {
    deps.log.info({ userId: ctx.userId }, "user not in TELEGRAM_ALLOWED_USERS; refused");
    const refusal = renderReply(notAllowedReply(ctx));
    if (input.kind === "action") {
      await call(deps, "answerCallbackQuery", () =>
        deps.telegram.answerCbQuery(input.queryId, refusal.text.slice(0, 200), { show_alert: true }),
      );
      return;
    }
    if (carriesSeed(input)) await deleteUserMessage(deps, place);
    await send(deps, place.chatId, refusal);
    return;
  }
  if (input.kind === "action") {
    // Answered first, so the button stops spinning even while the core is slow.
    await call(deps, "answerCallbackQuery", () => deps.telegram.answerCbQuery(input.queryId));
  }
  const reply = await untilCoreAnswers(() => coreReply(deps, input), {
    budgetMs: deps.coreWaitMs,
    signal: deps.stopping,
  });
  const deletion = reply.deleteUserMessage ? await deleteUserMessage(deps, place) : undefined;
  const message = renderReply(reply, deletion);
  const inPlace = input.kind === "action" && reply.replacesMessage === true;
  const shown = inPlace ? await replace(deps, place, message) : await send(deps, place.chatId, message);
  if (reply.code !== undefined) deps.expiry.schedule(shown, reply.code.label, reply.code.expiresAt);
  else if (inPlace) deps.expiry.cancel(shown);
  deps.log.info({ userId: ctx.userId, kind: input.kind, shownCode: reply.code !== undefined, deletion }, "answered");
}
