#!/usr/bin/env node
import { forgetBotSecrets, SECRETS_IN_ENVIRONMENT } from "@totp-custody/chat";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger, withoutToken } from "./logger.js";
import { startBot } from "./server.js";

/** A configuration problem ends the start with one line on stderr naming the variable, and exit code 2. */
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`telegram-bot: configuration error: ${err.message}\n`);
  process.exit(2);
}

// The secret values are in config now; the environment keeps none for a library, a child or a dump to find.
const secretsInEnvironment = forgetBotSecrets(process.env);
const log = createLogger();
if (secretsInEnvironment.length > 0) log.warn({ variables: secretsInEnvironment }, SECRETS_IN_ENVIRONMENT);
try {
  const bot = await startBot(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    bot.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
} catch (err) {
  log.fatal({ err }, "telegram-bot failed to start");
  // The same reason on stderr in one line, for a terminal (npm start) that does not read JSON.
  process.stderr.write(
    `telegram-bot: failed to start: ${withoutToken(err instanceof Error ? err.message : String(err))}\n`,
  );
  process.exit(1);
}
