export { type Config, ConfigError, loadConfig } from "./config.js";
export { createLogger } from "./logger.js";
export { type BotOptions, COMMANDS, type RunningBot, startBot } from "./server.js";
