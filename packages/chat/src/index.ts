export { looksLikeSeed } from "@totp-custody/contract";
export { actionCommand, decodeAction, encodeAction, MAX_ACTION_BYTES } from "./actionData.js";
export {
  ConfigError,
  configErrorFrom,
  type Env,
  forgetBotSecrets,
  type HostPort,
  parseHostPort,
  presentEnv,
  readConfiguredFile,
  type SchemaIssues,
  SECRETS_IN_ENVIRONMENT,
  secretFromEnv,
  totpClientConfig,
} from "./botConfig.js";
export type {
  ChatAction,
  ChatButton,
  ChatContext,
  ChatDeps,
  ChatReply,
  CodeDisplay,
  Origin,
  Platform,
  TextSpan,
} from "./ChatTypes.js";
export { carriesSeed } from "./carriesSeed.js";
export { decodeQrImage, ImageError } from "./decodeQrImage.js";
export { errorReply } from "./errorReply.js";
export { handleAction } from "./handleAction.js";
export { handleImage } from "./handleImage.js";
export { handleMessage } from "./handleMessage.js";
export { notAllowedReply } from "./helpReply.js";
export { isLabel, labelProblem, MAX_LABEL_LENGTH } from "./labelRule.js";
export { neverReachedServer } from "./neverReachedServer.js";
export { type ChatCommand, parseCommand } from "./parseCommand.js";
export { principalOf } from "./principalOf.js";
export { type HealthServer, type ReadinessCheck, startHealthServer } from "./startHealthServer.js";
export { CORE_WAIT_MS, type CoreWaitOptions, pauseMs, untilCoreAnswers } from "./untilCoreAnswers.js";
