export { spiffeId, TRUST_DOMAIN } from "@totp-custody/pki";
export { enableVaultKubernetesAuth } from "./enableVaultKubernetesAuth.js";
export { type EventuallyOptions, eventually } from "./eventually.js";
export { freePort } from "./freePort.js";
export { KubeApiError } from "./KubeApiError.js";
export { makeTestPki, type TestCert, type TestPki } from "./makeTestPki.js";
export { type MigrationEntry, migrationUri } from "./migrationUri.js";
export { type QrImageOptions, qrImage } from "./qrImage.js";
export { codesBetween, expectedCode, newSecret, periodEndOf } from "./referenceTotp.js";
export { runCommand } from "./runCommand.js";
export { type ExitStatus, type ProcessHandle, type RunProcessOptions, runProcess } from "./runProcess.js";
export { type ScratchImageOptions, scratchImageArchive } from "./scratchImageArchive.js";
export {
  type KubeApiServer,
  type ServiceAccountTokenOptions,
  type StartKubeApiServerOptions,
  startKubeApiServer,
  type TokenReviewStatus,
} from "./startKubeApiServer.js";
export {
  holdKubeClusterHost,
  KUBE_CLUSTER_DNS_PORT,
  type KubeCluster,
  restrictedContainerSecurity,
  restrictedPodSecurity,
  SKIP_CLUSTER_TESTS,
  startKubeCluster,
} from "./startKubeCluster.js";
export { type RedisServer, type StartRedisOptions, startRedis } from "./startRedis.js";
export {
  type CoreClientOptions,
  type RunningCore,
  type StartTotpCoreOptions,
  startTotpCore,
  TOTP_CORE_MAIN,
} from "./startTotpCore.js";
export {
  type AppRoleOptions,
  type AuditEntry,
  type AuditedVault,
  type PersistentVault,
  type StartedVault,
  type StartVaultOptions,
  startVault,
  type Vault,
} from "./startVault.js";
export { FormatError, type FormattedText, parseFormattedText } from "./telegram/parseFormattedText.js";
export { startTelegramServer } from "./telegram/startTelegramServer.js";
export type {
  CallbackAnswer,
  RequestRecord,
  SeenMessage as TelegramSeenMessage,
  TelegramFault,
  TelegramServer,
  TelegramServerOptions,
} from "./telegram/TelegramServer.js";
export type {
  TgBotCommand,
  TgCallbackQuery,
  TgChat,
  TgFile,
  TgInlineKeyboardButton,
  TgInlineKeyboardMarkup,
  TgMessage,
  TgMessageEntity,
  TgPhotoSize,
  TgUpdate,
  TgUser,
  TgUserFromGetMe,
  TgWebhookInfo,
} from "./telegram/TelegramTypes.js";
export {
  type SpecViolation,
  validateBotApiObject,
  validateBotApiRequest,
} from "./telegram/validateBotApiRequest.js";
export { readTestJson, testDataPath } from "./testData.js";
export { toolPath } from "./toolPath.js";
export { VaultError } from "./VaultError.js";
export { vaultRequest } from "./vaultRequest.js";
export { startZulipServer } from "./zulip/startZulipServer.js";
export { ZulipApiError } from "./zulip/ZulipApiError.js";
export type {
  MessageDeletionPolicy,
  MessagePermissions,
  QueueInfo,
  RequestLogEntry,
  SeenConversation,
  SeenMessage,
  SeenMessage as ZulipSeenMessage,
  SeenWhere,
  UserRef,
  WebhookDelivery,
  ZulipServer,
  ZulipServerOptions,
  ZulipUser,
} from "./zulip/ZulipTypes.js";
