import {
  ConfigError,
  configErrorFrom,
  type Env,
  type HostPort,
  parseHostPort,
  presentEnv,
  secretFromEnv,
  totpClientConfig,
} from "@totp-custody/chat";
import type { TotpClientFileOptions } from "@totp-custody/client";
import { z } from "zod";

export { ConfigError, type HostPort };

/**
 * The Telegram bot's whole configuration, read from the environment once at start. Every problem names its
 * variable, and never quotes a secret (the token, the webhook secret).
 */
export interface Config {
  token: string;
  /** The Bot API root, ending in `/` so that telegraf keeps a path prefix (it resolves `./bot<token>/...` on it). */
  apiRoot: string;
  totp: TotpClientFileOptions;
  /** Webhook mode when set; long polling when undefined. */
  webhook: WebhookConfig | undefined;
  /** Telegram user ids allowed to use the bot; undefined: everyone. */
  allowedUsers: ReadonlySet<string> | undefined;
  healthListen: HostPort | undefined;
  /** What happens to a code message when its code expires. */
  expiredCodes: "delete" | "edit";
}

export interface WebhookConfig {
  /** The public https URL given to setWebhook. */
  url: string;
  /** Its path, where the listener accepts updates. */
  path: string;
  listen: HostPort;
  secret: string;
}

export const DEFAULT_API_ROOT = "https://api.telegram.org/";
export const DEFAULT_WEBHOOK_LISTEN: HostPort = { host: "0.0.0.0", port: 8080 };

const schema = z.object({
  TELEGRAM_API_ROOT: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }).optional(),
  TELEGRAM_WEBHOOK_URL: z
    .url({ protocol: /^https?$/, error: "expected the public https:// URL of the webhook" })
    .optional(),
  TELEGRAM_WEBHOOK_LISTEN: z.string().optional(),
  TELEGRAM_ALLOWED_USERS: z
    .string()
    .regex(/^\s*\d+\s*(,\s*\d+\s*)*,?\s*$/, "expected comma-separated Telegram user ids, for example 12345,67890")
    .optional(),
  BOT_HEALTH_LISTEN: z.string().optional(),
  TELEGRAM_EXPIRED_CODES: z.enum(["delete", "edit"]).default("delete"),
});

/** The root as telegraf needs it: a path prefix is kept only when it ends in `/`. */
function apiRootOf(text: string | undefined): string {
  if (text === undefined) return DEFAULT_API_ROOT;
  return text.endsWith("/") ? text : `${text}/`;
}

function webhookOf(env: Env, v: z.infer<typeof schema>): WebhookConfig | undefined {
  const secret = secretFromEnv(env, "TELEGRAM_WEBHOOK_SECRET");
  if (v.TELEGRAM_WEBHOOK_URL === undefined) {
    for (const name of ["TELEGRAM_WEBHOOK_LISTEN", "TELEGRAM_WEBHOOK_SECRET"]) {
      if (env[name] || env[`${name}_FILE`]) {
        throw new ConfigError(`${name}: only used in webhook mode; set TELEGRAM_WEBHOOK_URL too, or remove it`);
      }
    }
    return undefined;
  }
  // Without a secret anyone who learns the URL could post updates as any user.
  if (secret === undefined) {
    throw new ConfigError("TELEGRAM_WEBHOOK_SECRET: required in webhook mode (or set TELEGRAM_WEBHOOK_SECRET_FILE)");
  }
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(secret)) {
    throw new ConfigError("TELEGRAM_WEBHOOK_SECRET: expected 1 to 256 characters of A-Z, a-z, 0-9, _ and -");
  }
  const url = new URL(v.TELEGRAM_WEBHOOK_URL);
  // Telegram posts to https only; a self-hosted Bot API server (`telegram-bot-api --local`) posts to http too.
  if (url.protocol === "http:" && v.TELEGRAM_API_ROOT === undefined) {
    throw new ConfigError(
      "TELEGRAM_WEBHOOK_URL: expected https:// (http:// only with a local Bot API server in TELEGRAM_API_ROOT)",
    );
  }
  return {
    url: v.TELEGRAM_WEBHOOK_URL,
    path: url.pathname,
    listen:
      v.TELEGRAM_WEBHOOK_LISTEN === undefined
        ? DEFAULT_WEBHOOK_LISTEN
        : parseHostPort("TELEGRAM_WEBHOOK_LISTEN", v.TELEGRAM_WEBHOOK_LISTEN),
    secret,
  };
}

function allowedUsersOf(text: string | undefined): ReadonlySet<string> | undefined {
  if (text === undefined) return undefined;
  const ids = text
    .split(",")
    .map((id) => id.trim())
    .filter((id) => id !== "");
  return new Set(ids.map((id) => String(Number(id))));
}

/** Validates the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  // Empty strings mean "unset", as a Kubernetes env entry with an empty value would.
  const present = presentEnv(env);
  const token = secretFromEnv(present, "TELEGRAM_BOT_TOKEN");
  if (token === undefined) {
    throw new ConfigError("TELEGRAM_BOT_TOKEN: required (from @BotFather), or set TELEGRAM_BOT_TOKEN_FILE");
  }
  if (!/^\d+:[A-Za-z0-9_-]{20,}$/.test(token)) {
    throw new ConfigError("TELEGRAM_BOT_TOKEN: expected <bot id>:<secret> as @BotFather gives it");
  }
  const parsed = schema.safeParse(present);
  if (!parsed.success) throw configErrorFrom(parsed.error, present);
  const v = parsed.data;
  return {
    token,
    apiRoot: apiRootOf(v.TELEGRAM_API_ROOT),
    totp: totpClientConfig(present),
    webhook: webhookOf(present, v),
    allowedUsers: allowedUsersOf(v.TELEGRAM_ALLOWED_USERS),
    healthListen:
      v.BOT_HEALTH_LISTEN === undefined ? undefined : parseHostPort("BOT_HEALTH_LISTEN", v.BOT_HEALTH_LISTEN),
    expiredCodes: v.TELEGRAM_EXPIRED_CODES,
  };
}
