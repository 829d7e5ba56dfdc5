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
