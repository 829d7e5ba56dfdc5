import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { PolicyError } from "./policy/index.js";
import { startServer } from "./server.js";

// The entry point: configuration errors end the start with one line naming the variable, not a stack trace.
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`totp-core: configuration error: ${err.message}\n`);
  process.exit(2);
}

const log = createLogger(config.logLevel);
try {
  const server = await startServer(config, log);
  // The bound ports, so that a supervisor (or a test) that asked for port 0 learns where to connect.
  log.info(
    {
      address: `${config.listen.host}:${server.port}`,
      store: config.store.kind,
      health: server.healthPort,
      metrics: server.metricsPort,
    },
    "totp-core ready",
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    server.shutdown().then(
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
  const known = err instanceof PolicyError || err instanceof ConfigError;
  log.fatal({ err }, known ? (err as Error).message : "totp-core failed to start");
  process.exit(1);
}
