import { readFileSync } from "node:fs";
import { type TotpClientFileOptions, tlsFilesFromEnv } from "@totp-custody/client";

/**
 * The configuration pieces both bots share: the names of totp-core's address and mTLS files, secrets from a
 * variable or a file, listen addresses. Every problem is a ConfigError whose message starts with the variable's
 * name, so a bot's main can print it as one line and exit 2.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export type Env = Record<string, string | undefined>;

export interface HostPort {
  host: string;
  port: number;
}

/** The environment without its empty values: an empty Kubernetes env entry means unset. */
export function presentEnv(env: Env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ""),
  );
}

/** The contents of the file named by `variable`; a ConfigError naming it when the file cannot be read. */
export function readConfiguredFile(variable: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`${variable}: cannot read ${file} (${code})`, { cause: err });
  }
}

/** A secret from NAME, or from the file named by NAME_FILE (Kubernetes Secret mounts), trimmed. */
export function secretFromEnv(env: Env, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new ConfigError(`${name} and ${name}_FILE are both set: keep one`);
  if (direct) return direct;
  if (!file) return undefined;
  const secret = readConfiguredFile(`${name}_FILE`, file).trim();
  if (secret === "") throw new ConfigError(`${name}_FILE: ${file} is empty`);
  return secret;
}

/** The bots' variables that may hold a secret value; each can instead name a file with the `_FILE` suffix. */
const BOT_SECRETS = ["TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "ZULIP_API_KEY", "ZULIP_WEBHOOK_TOKEN"];

/**
 * Removes the bots' secret values from `env` (process.env) once the configuration has been read, so that no library,
 * child process or dump of the environment finds them later. Answers the names of those that were given as values
 * rather than as files, for a warning: the kernel keeps a process's initial environment readable in
 * /proc/<pid>/environ whatever the process does, so only a `_FILE` keeps a secret out of it.
 */
export function forgetBotSecrets(env: Env): string[] {
  const given = BOT_SECRETS.filter((name) => env[name]);
  for (const name of BOT_SECRETS) delete env[name];
  return given;
}

/** The warning a bot logs, with the names forgetBotSecrets answered. */
export const SECRETS_IN_ENVIRONMENT =
  "secrets given as environment values stay readable in /proc/<pid>/environ while the bot runs; prefer the _FILE forms";

/** `host:port` (an IPv6 host in brackets), as the listen variables take it. */
export function parseHostPort(variable: string, text: string): HostPort {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    throw new ConfigError(`${variable}: expected host:port with a port of 0 to 65535, for example 0.0.0.0:8080`);
  }
  return { host: (match[1] as string).replace(/^\[|\]$/g, ""), port };
}

/**
 * The client options from TOTP_ADDR and the PEM files TOTP_TLS_CERT, TOTP_TLS_KEY and TOTP_TLS_CA, all required
 * and all read and checked now (see tlsFilesFromEnv), so a wrong path or file stops the start instead of failing the
 * first command. The client reads the files again while the bot runs, so a renewed certificate is used without a
 * restart.
 */
export function totpClientConfig(env: Env): TotpClientFileOptions {
  const present = presentEnv(env);
  const address = present.TOTP_ADDR;
  if (address === undefined) throw new ConfigError("TOTP_ADDR: required (totp-core's host:port)");
  if (!/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(address)) {
    throw new ConfigError("TOTP_ADDR: expected host:port, for example totp-core:8443");
  }
  try {
    return { address, ...tlsFilesFromEnv(present) };
  } catch (err) {
    throw new ConfigError((err as Error).message, { cause: err });
  }
}

/** What a schema library reports (zod's shape), reduced to what the message needs. */
export interface SchemaIssues {
  issues: readonly { path: readonly PropertyKey[]; code: string; message: string }[];
}

/** The first issue of a failed validation of `present`, as a ConfigError naming its variable. */
export function configErrorFrom(error: SchemaIssues, present: Record<string, string>): ConfigError {
  const issue = error.issues[0];
  const name = String(issue?.path[0] ?? "environment");
  const message = issue?.code === "invalid_type" && present[name] === undefined ? "required" : issue?.message;
  return new ConfigError(`${name}: ${message}`);
}
