import type { RenderedMessage } from "./renderMessage.js";
import type { SeenMessage, ZulipUser } from "./ZulipTypes.js";

export interface Stream {
  id: number;
  name: string;
  /** Undefined: every user, present and future. */
  subscribers?: Set<number>;
}

/** A message as the realm keeps it; what users and clients get is derived from it. */
export interface StoredMessage {
  id: number;
  type: "private" | "stream";
  sender: ZulipUser;
  /** DM participants, sender included, by id; empty for a stream message. */
  participants: ZulipUser[];
  stream?: Stream;
  topic: string;
  recipientId: number;
  recipientIds: number[];
  /** Who had posted in the topic before: the users a @**topic** mention flags. */
  topicParticipantIds: number[];
  content: string;
  rendered: RenderedMessage;
  /** The content and rendering as first sent, kept because an edit can come before a test looks. */
  asSent: { content: string; rendered: RenderedMessage };
  /** Seconds, as the API gives it. */
  timestamp: number;
  /** Milliseconds, for the edit and delete time limits. */
  sentAt: number;
  client: string;
  edits: { userId: number; at: number; previousContent: string }[];
  deleted: boolean;
  deletedBy?: number;
}

/** "dm:<participant ids>" or "stream:<name>/<topic>": one conversation as a user's client groups it. */
export function conversationKey(message: StoredMessage): string {
  return message.stream
    ? `stream:${message.stream.name}/${message.topic}`
    : `dm:${message.participants.map((u) => u.id).join(",")}`;
}

/** The message's flags for one receiving user. */
export function messageFlags(message: StoredMessage, viewerId: number): string[] {
  const flags: string[] = [];
  // Zulip marks a user's own messages read.
  if (message.sender.id === viewerId) flags.push("read");
  if (message.rendered.mentionedIds.includes(viewerId)) flags.push("mentioned");
  // Wildcards count in channels only: @**all** flags every recipient, @**topic** those who took part in the topic;
  // the deprecated wildcard_mentioned still comes along, as in Zulip.
  const wildcard = message.type === "stream" ? message.rendered.wildcard : undefined;
  if (wildcard === "stream" || (wildcard === "topic" && message.topicParticipantIds.includes(viewerId))) {
    flags.push(`${wildcard}_wildcard_mentioned`, "wildcard_mentioned");
  }
  return flags;
}

/** The message object of the API (events, GET /messages, webhook payloads). */
export function wireMessage(message: StoredMessage, applyMarkdown: boolean, realmUrl: string): Record<string, unknown> {
  return {
    id: message.id,
    type: message.type,
    sender_id: message.sender.id,
    sender_email: message.sender.email,
    sender_full_name: message.sender.fullName,
    sender_realm_str: "zulip",
    display_recipient: message.stream
      ? message.stream.name
      : message.participants.map((u) => ({ id: u.id, email: u.email, full_name: u.fullName, is_mirror_dummy: false })),
    subject: message.topic,
    recipient_id: message.recipientId,
    content: applyMarkdown ? message.rendered.html : message.content,
    content_type: applyMarkdown ? "text/html" : "text/x-markdown",
    timestamp: message.timestamp,
    client: message.client,
    is_me_message: message.content.startsWith("/me "),
    reactions: [],
    submessages: [],
    topic_links: [],
    avatar_url: avatarUrl(realmUrl, message.sender),
    ...(message.stream ? { stream_id: message.stream.id } : {}),
    ...(message.edits.length > 0 ? { last_edit_timestamp: Math.floor((message.edits.at(-1)?.at ?? 0) / 1000) } : {}),
  };
}

export function avatarUrl(realmUrl: string, user: ZulipUser): string {
  return `${realmUrl}/avatar/${user.id}`;
}

/** A copy of the message for the test's eyes. */
export function seenMessage(message: StoredMessage): SeenMessage {
  return {
    id: message.id,
    type: message.type,
    senderId: message.sender.id,
    senderEmail: message.sender.email,
    senderFullName: message.sender.fullName,
    conversation: conversationKey(message),
    ...(message.stream ? { stream: message.stream.name, topic: message.topic } : {}),
    recipientIds: [...message.recipientIds],
    content: message.content,
    html: message.rendered.html,
    visibleText: message.rendered.visibleText,
    fullText: message.rendered.fullText,
    spoilers: message.rendered.spoilers.map((s) => ({ ...s })),
    mentionedIds: [...message.rendered.mentionedIds],
    edits: message.edits.map((e) => ({ ...e })),
    asSent: {
      content: message.asSent.content,
      visibleText: message.asSent.rendered.visibleText,
      spoilers: message.asSent.rendered.spoilers.map((s) => ({ ...s })),
    },
    deleted: message.deleted,
    ...(message.deletedBy !== undefined ? { deletedBy: message.deletedBy } : {}),
    timestamp: message.timestamp,
  };
}
