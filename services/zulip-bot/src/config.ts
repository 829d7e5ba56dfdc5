import {
  ConfigError,
  configErrorFrom,
  type Env,
  type HostPort,
  parseHostPort,
  presentEnv,
  readConfiguredFile,
  secretFromEnv,
  totpClientConfig,
} from "@totp-custody/chat";
import type { TotpClientFileOptions } from "@totp-custody/client";
import { parse as parseIni } from "ini";
import { z } from "zod";

export { ConfigError };

/**
 * The Zulip bot's whole configuration, read from the environment once at start; every problem names its
 * variable. The mode follows ZULIP_WEBHOOK_LISTEN: unset, one replica polls an event queue; set, Zulip's outgoing
 * webhook posts each message to it and any number of replicas can answer.
 */
export interface Config {
  zulip: ZulipCredentials;
  totp: TotpClientFileOptions;
  webhook: { listen: HostPort; token: string } | undefined;
  /** Who may use the bot (ids and lower-case emails); undefined: everyone in the realm. */
  allowedSenders: SenderAllowlist | undefined;
  /** Lower-case names of the streams where a mention is answered; undefined: any stream. */
  streams: ReadonlySet<string> | undefined;
  healthListen: HostPort | undefined;
}

export interface ZulipCredentials {
  /** The organisation's URL, without a trailing slash (zulip-js appends /api/v1). */
  realm: string;
  email: string;
  apiKey: string;
}

export interface SenderAllowlist {
  ids: ReadonlySet<number>;
  emails: ReadonlySet<string>;
}

const realm = z
  .url({ protocol: /^https?$/, message: "expected the organisation's URL, for example https://chat.example.com" })
  .transform((url) => url.replace(/\/+$/, ""));
const email = z.string().regex(/^[^\s@]+@[^\s@]+$/, "expected the bot's email, for example otp-bot@chat.example.com");

const schema = z.object({
  ZULIP_REALM: realm.optional(),
  ZULIP_EMAIL: email.optional(),
  ZULIP_RC: z.string().optional(),
  ZULIP_WEBHOOK_LISTEN: z.string().optional(),
  ZULIP_ALLOWED_SENDERS: z.string().optional(),
  ZULIP_STREAMS: z.string().optional(),
  BOT_HEALTH_LISTEN: z.string().optional(),
});

/** The [api] section of a zuliprc file (what Zulip's "Download zuliprc" gives): email, key and site. */
function credentialsFromZuliprc(file: string): ZulipCredentials {
  let api: Record<string, unknown> | undefined;
  try {
    api = parseIni(readConfiguredFile("ZULIP_RC", file)).api as Record<string, unknown> | undefined;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`ZULIP_RC: ${file} is not an INI file`);
  }
  const field = (name: string) => {
    const value = api?.[name];
    if (typeof value !== "string" || value.trim() === "") {
      throw new ConfigError(`ZULIP_RC: ${file} has no ${name} in its [api] section`);
    }
    return value.trim();
  };
  const site = realm.safeParse(field("site"));
  if (!site.success) throw new ConfigError(`ZULIP_RC: the site in ${file} is not an http(s) URL`);
  const address = email.safeParse(field("email"));
  if (!address.success) throw new ConfigError(`ZULIP_RC: the email in ${file} is not an email address`);
  return { realm: site.data, email: address.data, apiKey: field("key") };
}

function credentials(env: Env, v: z.infer<typeof schema>): ZulipCredentials {
  const apiKey = secretFromEnv(env, "ZULIP_API_KEY");
  if (v.ZULIP_RC !== undefined) {
    for (const [name, set] of [
      ["ZULIP_REALM", v.ZULIP_REALM],
      ["ZULIP_EMAIL", v.ZULIP_EMAIL],
      ["ZULIP_API_KEY", apiKey],
    ] as const) {
      if (set !== undefined) throw new ConfigError(`${name}: ZULIP_RC gives the credentials already: keep one`);
    }
    return credentialsFromZuliprc(v.ZULIP_RC);
  }
  if (v.ZULIP_REALM === undefined) throw new ConfigError("ZULIP_REALM: required (or set ZULIP_RC)");
  if (v.ZULIP_EMAIL === undefined) throw new ConfigError("ZULIP_EMAIL: required (or set ZULIP_RC)");
  if (apiKey === undefined) throw new ConfigError("ZULIP_API_KEY: required (or set ZULIP_API_KEY_FILE or ZULIP_RC)");
  return { realm: v.ZULIP_REALM, email: v.ZULIP_EMAIL, apiKey };
}

/** Comma- or space-separated user ids and emails. */
function allowlist(text: string | undefined): SenderAllowlist | undefined {
  if (text === undefined) return undefined;
  const ids = new Set<number>();
  const emails = new Set<string>();
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    if (/^\d{1,15}$/.test(entry)) ids.add(Number(entry));
    else if (email.safeParse(entry).success) emails.add(entry.toLowerCase());
    else throw new ConfigError(`ZULIP_ALLOWED_SENDERS: expected user ids or emails, separated by commas`);
  }
  return { ids, emails };
}

/** Comma-separated stream names (names may hold spaces); Zulip compares them ignoring case. */
function streamNames(text: string | undefined): ReadonlySet<string> | undefined {
  if (text === undefined) return undefined;
  const names = text
    .split(",")
    .map((name) => name.trim().replace(/^#/, "").toLowerCase())
    .filter(Boolean);
  if (names.length === 0) throw new ConfigError("ZULIP_STREAMS: expected stream names separated by commas");
  return new Set(names);
}

function webhook(env: Env, v: z.infer<typeof schema>): Config["webhook"] {
  const token = secretFromEnv(env, "ZULIP_WEBHOOK_TOKEN");
  if (v.ZULIP_WEBHOOK_LISTEN === undefined) {
    if (token !== undefined) throw new ConfigError("ZULIP_WEBHOOK_TOKEN: set ZULIP_WEBHOOK_LISTEN too, or remove it");
    return undefined;
  }
  const listen = parseHostPort("ZULIP_WEBHOOK_LISTEN", v.ZULIP_WEBHOOK_LISTEN);
  if (token === undefined) {
    throw new ConfigError("ZULIP_WEBHOOK_TOKEN: required with ZULIP_WEBHOOK_LISTEN (the outgoing webhook's token)");
  }
  return { listen, token };
}

/** Validates the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const present = presentEnv(env);
  const parsed = schema.safeParse(present);
  if (!parsed.success) throw configErrorFrom(parsed.error, present);
  const v = parsed.data;
  return {
    zulip: credentials(present, v),
    totp: totpClientConfig(present),
    webhook: webhook(present, v),
    allowedSenders: allowlist(v.ZULIP_ALLOWED_SENDERS),
    streams: streamNames(v.ZULIP_STREAMS),
    healthListen:
      v.BOT_HEALTH_LISTEN === undefined ? undefined : parseHostPort("BOT_HEALTH_LISTEN", v.BOT_HEALTH_LISTEN),
  };
}
