import { forgetBotSecrets, SECRETS_IN_ENVIRONMENT } from "@totp-custody/chat";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startBot } from "./server.js";

/** A configuration problem ends the start with one line on stderr naming the variable, and exit code 2. */
function exitOnConfigError(err: unknown): void {
  if (!(err instanceof ConfigError)) return;
  process.stderr.write(`zulip-bot: configuration error: ${err.message}\n`);
  process.exit(2);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  exitOnConfigError(err);
  throw err;
}

// The secret values are in config now; the environment keeps none for a library, a child or a dump to find.
const secretsInEnvironment = forgetBotSecrets(process.env);
const log = createLogger();
if (secretsInEnvironment.length > 0) log.warn({ variables: secretsInEnvironment }, SECRETS_IN_ENVIRONMENT);
try {
  const bot = await startBot(config, log);
  log.info(
    { mode: bot.mode, botUserId: bot.bot.userId, webhook: bot.webhookPort, health: bot.healthPort },
    "zulip-bot ready",
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    bot.shutdown().then(
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
  exitOnConfigError(err);
  log.fatal({ err }, "zulip-bot failed to start");
  process.exit(1);
}
