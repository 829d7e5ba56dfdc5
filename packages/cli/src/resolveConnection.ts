import { readFileSync } from "node:fs";
import type { TotpClientOptions } from "@totp-custody/client";
import { CliError } from "./CliError.js";
import { ExitCode } from "./exitCodes.js";

/** The global flags that say how to reach totp-core. */
export interface ConnectionFlags {
  addr?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** What `npm start` left in `.dev/`: its address and the admin client's files. */
export interface DevMaterial {
  address: string;
  ca: string;
  cert: string;
  key: string;
}

/** One setting and where it came from, for messages that tell the operator what to fix. */
export interface Setting {
  value: string;
  from: string;
  what: string;
}

export interface Connection {
  address: Setting;
  ca: Setting;
  cert: Setting;
  key: Setting;
  serverName: string | undefined;
}

const FIELDS = [
  { field: "address", flag: "addr", env: "TOTP_ADDR", what: "totp-core's address" },
  { field: "ca", flag: "ca", env: "TOTP_TLS_CA", what: "the CA certificate" },
  { field: "cert", flag: "cert", env: "TOTP_TLS_CERT", what: "the client certificate" },
  { field: "key", flag: "key", env: "TOTP_TLS_KEY", what: "the client key" },
] as const;

/**
 * Each setting from its flag, else its environment variable (the names the bots and the SDK share), else the
 * checkout's `.dev/` folder: flags win so a one-off call can point elsewhere without touching the environment.
 * `findDev` is asked only when a setting is missing, so a fully configured call never looks at `.dev/`.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: Record<string, string | undefined>,
  findDev: () => DevMaterial | undefined,
): Connection {
  const settings = {} as Record<(typeof FIELDS)[number]["field"], Setting>;
  let dev: DevMaterial | undefined;
  let looked = false;
  for (const { field, flag, env: variable, what } of FIELDS) {
    const flagValue = flags[flag];
    const envValue = env[variable];
    if (!flagValue && !envValue && !looked) {
      dev = findDev();
      looked = true;
    }
    if (flagValue) settings[field] = { value: flagValue, from: `--${flag}`, what };
    else if (envValue) settings[field] = { value: envValue, from: variable, what };
    else if (dev) settings[field] = { value: dev[field], from: ".dev/", what };
    else {
      throw new CliError(
        `${what} is not set: pass --${flag} or set ${variable} (or run npm start in the checkout first)`,
        ExitCode.usage,
      );
    }
  }
  return { ...settings, serverName: env.TOTP_SERVER_NAME || undefined };
}

function readSetting(setting: Setting): Buffer {
  try {
    return readFileSync(setting.value);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new CliError(
      `cannot read ${setting.what} ${setting.value} (from ${setting.from}): ${reason}`,
      ExitCode.usage,
    );
  }
}

/** The client options of a connection, with its PEM files read. */
export function clientOptionsOf(connection: Connection): TotpClientOptions {
  return {
    address: connection.address.value,
    ca: readSetting(connection.ca),
    cert: readSetting(connection.cert),
    key: readSetting(connection.key),
    serverName: connection.serverName,
  };
}
