import { setTimeout as sleep } from "node:timers/promises";
import { type HealthServer, startHealthServer } from "@totp-custody/chat";
import { createTotpClient } from "@totp-custody/client";
import type { Logger } from "pino";
import { type Config, ConfigError } from "./config.js";
import { EventQueueLoop } from "./EventQueueLoop.js";
import { MessageIntake } from "./MessageIntake.js";
import { Responder } from "./Responder.js";
import type { BotIdentity } from "./routeMessage.js";
import { startWebhookServer, type WebhookServer } from "./startWebhookServer.js";
import { connectZulip, type ZulipApi, ZulipApiError } from "./ZulipApi.js";

export interface RunningBot {
  mode: "event-queue" | "webhook";
  bot: BotIdentity;
  webhookPort: number | undefined;
  healthPort: number | undefined;
  /** Stops taking messages, answers those in hand, marks code messages expired, deletes the event queue. */
  shutdown(): Promise<void>;
}

/**
 * SDK retries for the reads a code needs: a totp-core that restarts (a rollout) is back within seconds, and an
 * answer a little late beats "unavailable". Writes are repeated only when they never reached the core.
 */
const CORE_ATTEMPTS = 6;
const CORE_BACKOFF_MS = 250;
/** How long a message waits for a restarting totp-core, in both modes (neither holds a request of Zulip's). */
const CORE_WAIT_MS = 60_000;

/**
 * The bot's own user. Zulip refusing the credentials is a configuration error; a Zulip that does not answer yet
 * (starting with the bot) is waited for, as the event loop would.
 */
async function whoAmI(api: ZulipApi, log: Logger, signal: AbortSignal): Promise<BotIdentity> {
  for (let attempt = 1; ; attempt++) {
    try {
      const me = await api.me();
      return { userId: me.user_id, fullName: me.full_name };
    } catch (err) {
      if (err instanceof ZulipApiError && /UNAUTHORI[SZ]ED|INVALID_API_KEY|USER_DEACTIVATED/.test(err.code)) {
        throw new ConfigError(`ZULIP_API_KEY: Zulip refused the bot's credentials (${err.code})`);
      }
      // Servers before error codes (feature level 36) answer a wrong key with only a message.
      if (err instanceof ZulipApiError && err.code === "BAD_REQUEST" && /api key|credentials/i.test(err.message)) {
        throw new ConfigError(`ZULIP_API_KEY: Zulip refused the bot's credentials (${err.message})`);
      }
      const waitMs = Math.min(10_000, 500 * 2 ** (attempt - 1));
      log.warn({ err, waitMs }, "Zulip not reachable yet; waiting");
      await sleep(waitMs, undefined, { signal });
    }
  }
}

/** Wires the bot from a validated configuration and starts taking messages. */
export async function startBot(config: Config, log: Logger): Promise<RunningBot> {
  // Two stops: core waits end as soon as shutdown starts (their messages get "unavailable"), Zulip waits only at the
  // end, so that the answers in hand still reach Zulip through a rate limit.
  const stopping = new AbortController();
  const coreWaits = new AbortController();
  const api = await connectZulip(config.zulip, {
    signal: stopping.signal,
    onRateLimited: (what, waitMs) => log.warn({ call: what, waitMs }, "Zulip rate limit hit; waiting its retry-after"),
    onUnreachable: (what, waitMs, err) =>
      log.warn({ call: what, waitMs, reason: err.message }, "could not reach Zulip; trying again"),
  });
  const bot = await whoAmI(api, log, stopping.signal);
  const client = createTotpClient({ ...config.totp, maxAttempts: CORE_ATTEMPTS, backoffMs: CORE_BACKOFF_MS });
  const responder = new Responder({
    api,
    chat: { client },
    log,
    coreWaitMs: CORE_WAIT_MS,
    signal: coreWaits.signal,
  });
  const intake = new MessageIntake(bot, config, responder, log);
  let webhook: WebhookServer | undefined;
  let loop: EventQueueLoop | undefined;
  if (config.webhook) {
    webhook = await startWebhookServer(config.webhook.listen, config.webhook.token, intake, log);
  } else {
    loop = new EventQueueLoop(api, bot, intake, log);
    await loop.start();
  }
  let health: HealthServer | undefined;
  if (config.healthListen) {
    health = await startHealthServer(config.healthListen, {
      zulip: async () => {
        await api.me();
      },
      "totp-core": async () => {
        const status = await client.checkHealth({ deadlineMs: 2000 });
        if (status !== "SERVING") throw new Error(status);
      },
    });
  }
  return {
    mode: webhook ? "webhook" : "event-queue",
    bot,
    webhookPort: webhook?.port,
    healthPort: health?.port,
    async shutdown() {
      coreWaits.abort();
      await webhook?.close();
      await loop?.stop();
      await intake.drain();
      await responder.expireAll();
      stopping.abort();
      await health?.close();
      client.close();
    },
  };
}
