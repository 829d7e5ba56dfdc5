import { format } from "node:util";
import { setLogger } from "@grpc/grpc-js";
import { ConfigError, forgetSecrets, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startServer } from "./server.js";

/**
 * A configuration problem ends the start with one line on stderr naming the variable, no stack trace, and exit
 * code 2: a bad value in the environment (loadConfig) and a file or address that cannot be used (startStep) alike.
 */
function exitOnConfigError(err: unknown): void {
  if (!(err instanceof ConfigError)) return;
  process.stderr.write(`totp-core: configuration error: ${err.message}\n`);
  process.exit(2);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  exitOnConfigError(err);
  throw err;
}

const secretsInEnvironment = forgetSecrets(process.env);
const log = createLogger(config.logLevel);
if (secretsInEnvironment.length > 0) {
  log.warn(
    { variables: secretsInEnvironment },
    "secrets given as environment values stay readable in /proc/<pid>/environ while totp-core runs; prefer the _FILE forms",
  );
}
// grpc-js writes its own messages (a bind that failed, a certificate it cannot use) to stderr as plain text; as JSON
// lines of the service log they reach the same pipeline as everything else. GRPC_VERBOSITY still chooses what
// grpc-js says, TOTP_LOG_LEVEL what is kept.
const grpcLog = log.child({ component: "grpc-js" });
setLogger({
  error: (...args: unknown[]) => grpcLog.error(format(...args)),
  info: (...args: unknown[]) => grpcLog.info(format(...args)),
  debug: (...args: unknown[]) => grpcLog.debug(format(...args)),
});
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
  // What logrotate's postrotate sends. Node's default for SIGHUP is to die on the spot, without draining calls.
  process.on("SIGHUP", () => {
    if (server.reopenAuditFile()) log.info({ signal: "SIGHUP" }, "audit file reopens at its next write");
    else log.info({ signal: "SIGHUP" }, "SIGHUP ignored: the audit log goes to stdout, there is no file to reopen");
  });
} catch (err) {
  exitOnConfigError(err);
  log.fatal({ err }, "totp-core failed to start");
  process.exit(1);
}
