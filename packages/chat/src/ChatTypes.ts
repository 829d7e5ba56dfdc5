import type { TotpClient } from "@totp-custody/client";

/**
 * The platform-neutral command core's contract with the bots. A bot turns a platform event into a ChatContext and
 * the message's text (or image, or button action), calls the core, and renders the ChatReply in its own idiom
 * (Telegram entities and inline buttons; Zulip markdown). Nothing here knows a platform; a third platform is a new adapter of these types.
 */

/** Platforms whose users a bot acts for: the principal is `<platform>:<user id>`. */
export type Platform = "telegram" | "zulip";

/**
 * Where a message came from. `private`: a one-to-one chat with the bot. `public`: a group, supergroup or stream,
 * where anyone else present would see a code or a seed.
 */
export type Origin = "private" | "public";

/** Who is asking, and where. */
export interface ChatContext {
  platform: Platform;
  /** The platform's user id, as text (`telegram:<id>` is built from it). */
  userId: string;
  origin: Origin;
  /**
   * The adapter answers a public message by direct message (Zulip's stream mentions). When false, a public
   * message's answer is posted where it came from, so the core never puts a code or a list in it.
   */
  answersPrivately: boolean;
}

/** A press of a button the core put in an earlier reply (Telegram inline keyboards). */
export type ChatAction =
  | { kind: "code"; label: string }
  | { kind: "refresh"; label: string }
  | { kind: "confirmRemove"; label: string }
  | { kind: "cancelRemove"; label: string };

/**
 * A run of reply text, always plain: adapters escape every span for their markup. `label` holds a label name,
 * `strong` something to stand out (a principal), `command` a command of the core's grammar such as `code <label>`,
 * which the adapter writes in its own syntax (Telegram's leading `/`, Zulip's backticks).
 */
export type TextSpan =
  | { kind: "text"; text: string }
  | { kind: "label"; text: string }
  | { kind: "strong"; text: string }
  | { kind: "command"; text: string };

/** A button under a reply. Its action encodes to callback data of at most 64 bytes, carrying no secret. */
export interface ChatButton {
  text: string;
  action: ChatAction;
}

/** A code to show hidden (a spoiler), with what the adapter needs to count down and expire it. */
export interface CodeDisplay {
  label: string;
  code: string;
  issuer: string;
  account: string;
  period: number;
  validUntil: Date;
  serverTime: Date;
  /**
   * When the code expires by this process's clock: now plus (validUntil - serverTime), so a clock that differs from
   * the core's does not shorten or stretch the countdown. Adapters delete or expire the message then.
   */
  expiresAt: Date;
}

export interface ChatReply {
  /** Paragraphs, each a list of spans. */
  paragraphs: TextSpan[][];
  /** The code to render hidden; it appears nowhere in `paragraphs`. */
  code?: CodeDisplay;
  /**
   * Rows of buttons. Telegram renders inline buttons; an adapter without buttons renders each action as the command
   * that does the same (Zulip: `remove <label> confirm`), so the core never writes platform syntax.
   */
  buttons?: ChatButton[][];
  /** The user's message carried a seed: delete it now, and say so (or say to delete it, if that failed). */
  deleteUserMessage?: boolean;
  /** The reply answers a button press whose message should now show this reply instead (edit in place). */
  replacesMessage?: boolean;
  /**
   * totp-core could not be reached (UNAVAILABLE or DEADLINE_EXCEEDED once the SDK's retries were spent). An adapter
   * that still holds the platform event (a poll not yet confirmed, a webhook request not yet answered) may wait and
   * run it again, so that a core restart loses no message; when it gives up, it sends this reply.
   */
  coreUnavailable?: boolean;
}

/** What the core needs to run: the SDK client (mTLS, deadlines, retries) and a clock. */
export interface ChatDeps {
  client: TotpClient;
  /** This process's clock, for CodeDisplay.expiresAt; `new Date()` by default. */
  now?: () => Date;
}
