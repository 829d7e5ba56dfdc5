import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CORE_WAIT_MS, type HealthServer, type HostPort, startHealthServer } from "@totp-custody/chat";
import { createTotpClient } from "@totp-custody/client";
import type { Logger } from "pino";
import { Telegraf, TelegramError } from "telegraf";
import type { BotCommand } from "telegraf/types";
import { answerUpdate } from "./answerUpdate.js";
import { CodeExpiry } from "./CodeExpiry.js";
import type { Config } from "./config.js";
import { withoutToken } from "./logger.js";
import { renderExpired } from "./renderReply.js";
import { routeUpdate } from "./routeUpdate.js";

import { withTelegramRetry } from "./withTelegramRetry.js";

export interface RunningBot {
  mode: "polling" | "webhook";
  /** The bound webhook port (TELEGRAM_WEBHOOK_LISTEN may ask for port 0), in webhook mode. */
  webhookPort: number | undefined;
  healthPort: number | undefined;
  /** Stops taking updates, finishes those in hand, expires shown codes, releases everything. */
  stop(): Promise<void>;
}

/** The menu Telegram shows next to the message field. */
export const COMMANDS: BotCommand[] = [
  { command: "list", description: "Your labels and your team's, a button for each code" },
  { command: "code", description: "The current code of a label: /code <label>" },
  { command: "add", description: "Store a seed: /add <label> <otpauth URI or base32>" },
  { command: "import", description: "Import a Google Authenticator export: /import <otpauth-migration URI>" },
  { command: "remove", description: "Remove a label (asks to confirm): /remove <label>" },
  { command: "whoami", description: "Your principal, for the operator" },
  { command: "help", description: "What I do and how to add a seed safely" },
];

/** The updates the bot reads; anything else Telegram keeps to itself. */
const ALLOWED_UPDATES = ["message", "edited_message", "callback_query"] as const;

const addressOf = ({ host, port }: HostPort) => `${host.includes(":") ? `[${host}]` : host}:${port}`;

function listen(server: Server, at: HostPort): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Wires the bot from a validated configuration and starts taking updates (long polling, or the webhook). */
export async function startBot(config: Config, log: Logger): Promise<RunningBot> {
  const client = createTotpClient({ ...config.totp });
  const bot = new Telegraf(config.token, {
    // Every method a real call: with webhook replies, deleteMessage would go out in the HTTP answer and the bot could
    // not tell the user whether their seed message is gone.
    telegram: { apiRoot: config.apiRoot, webhookReply: false },
    // Past the core wait, the answer's own Bot API calls (429 waits included) still get their time.
    handlerTimeout: CORE_WAIT_MS + 60_000,
  });
  const stopping = new AbortController();
  const expiry = new CodeExpiry(async (place, label) => {
    try {
      if (config.expiredCodes === "edit") {
        const expired = renderExpired(label);
        await withTelegramRetry(() =>
          bot.telegram.editMessageText(place.chatId, place.messageId, undefined, expired.text, {
            entities: expired.entities,
            reply_markup: expired.reply_markup,
          }),
        );
      } else {
        await withTelegramRetry(() => bot.telegram.deleteMessage(place.chatId, place.messageId));
      }
    } catch (err) {
      // The user deleted it first, or it is older than Telegram allows: nothing shows the code any more, or
      // nothing can be done about it.
      log.info({ err, chatId: place.chatId }, "could not expire a code message");
    }
  });
  const deps = {
    telegram: bot.telegram,
    chat: { client },
    expiry,
    allowedUsers: config.allowedUsers,
    log,
    stopping: stopping.signal,
  };

  const inHand = new Set<Promise<void>>();
  bot.use(async (ctx) => {
    const work = answerUpdate({ ...deps, telegram: ctx.telegram }, routeUpdate(ctx.update, ctx.botInfo.username));
    inHand.add(work);
    try {
      await work;
    } finally {
      inHand.delete(work);
    }
  });
  bot.catch((err) => log.error({ err }, "update failed"));

  let health: HealthServer | undefined;
  if (config.healthListen) {
    health = await startHealthServer(config.healthListen, {
      telegram: async () => {
        try {
          await bot.telegram.getMe();
        } catch (err) {
          // A failed fetch names the URL, and the URL holds the token: the reason goes out without it.
          throw new Error(`getMe failed: ${withoutToken(err instanceof Error ? err.message : String(err))}`);
        }
      },
      "totp-core": async () => {
        const status = await client.checkHealth({ deadlineMs: 2000 });
        if (status !== "SERVING") throw new Error(`health is ${status}`);
      },
    });
  }

  // getMe first: a wrong token or an unreachable Bot API ends the start here, with its reason.
  bot.botInfo = await bot.telegram.getMe();
  await withTelegramRetry(() => bot.telegram.setMyCommands(COMMANDS));

  let webhookServer: Server | undefined;
  let webhookPort: number | undefined;
  let polling: Promise<void> | undefined;
  const webhook = config.webhook;
  if (webhook) {
    const path = new URL(webhook.url);
    webhookServer = createServer(bot.webhookCallback(path.pathname + path.search, { secretToken: webhook.secret }));
    webhookPort = await listen(webhookServer, webhook.listen);
    await withTelegramRetry(() =>
      bot.telegram.setWebhook(webhook.url, { secret_token: webhook.secret, allowed_updates: [...ALLOWED_UPDATES] }),
    );
    log.info(
      { mode: "webhook", listen: addressOf({ ...webhook.listen, port: webhookPort }), health: health?.port },
      "telegram-bot ready",
    );
  } else {
    polling = startPolling(bot, log);
    log.info({ mode: "polling", bot: bot.botInfo.username, health: health?.port }, "telegram-bot ready");
  }

  return {
    mode: webhook ? "webhook" : "polling",
    webhookPort,
    healthPort: health?.port,
    async stop() {
      if (webhookServer) {
        const closed = new Promise((resolve) => webhookServer.close(resolve));
        webhookServer.closeIdleConnections();
        stopping.abort();
        await closed;
      } else {
        // Telegraf ends the poll, lets the batch in hand finish, then confirms its offset with one last getUpdates.
        await stopPolling(bot);
        stopping.abort();
        await polling;
      }
      await Promise.all([...inHand]);
      await expiry.flush();
      await health?.close();
      client.close();
    },
  };
}

/**
 * Ends long polling. Telegraf refuses to stop a bot whose first poll has not begun (its launch still awaits
 * deleteWebhook), so a stop that early waits for that moment.
 */
async function stopPolling(bot: Telegraf): Promise<void> {
  for (;;) {
    try {
      bot.stop("shutdown");
      return;
    } catch {
      await sleep(50);
    }
  }
}

/**
 * Long polling until stopped. Telegraf's own loop waits out 429, 5xx and network failures; a 401 (a revoked token)
 * or a 409 (another process polls with this token, or a webhook is set) ends it, and then the process: a bot that
 * silently stopped answering would be worse.
 */
function startPolling(bot: Telegraf, log: Logger): Promise<void> {
  const done = bot.launch({ allowedUpdates: [...ALLOWED_UPDATES] });
  return done.catch((err: unknown) => {
    const code = err instanceof TelegramError ? err.code : undefined;
    log.fatal({ err, code }, "long polling ended");
    process.exit(1);
  });
}
