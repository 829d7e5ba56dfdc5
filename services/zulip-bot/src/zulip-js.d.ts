/**
 * The part of zulip-js 2.1.0 this bot calls (the package ships no types). What the code relies on, checked
 * against its lib/ sources: every call resolves with the parsed JSON body, an error body included (400, 401, 429:
 * nothing throws but a network failure or a non-JSON answer); POST parameters go as multipart form fields, where an
 * array is JSON-encoded and a boolean crashes form-data, so booleans are passed as the strings "true"/"false"; GET,
 * PATCH and DELETE parameters go in the query string as String(value), so an array there must be JSON text already.
 *
 * A module of types, not an ambient `declare module "zulip-js"`: the testkit's tests declare their own, and two
 * ambient declarations of one module would merge in the type check of all tests. ZulipApi.ts loads the package
 * with require and gives it the `Zulip` type.
 */
export interface Credentials {
  realm: string;
  username: string;
  apiKey: string;
}

/** What every answer carries; errors add a `code` (BAD_EVENT_QUEUE_ID, RATE_LIMIT_HIT...). */
export interface ErrorBody {
  result: "error";
  msg: string;
  code?: string;
  /** Seconds to wait, on RATE_LIMIT_HIT (the Retry-After header is out of zulip-js's callers' reach). */
  "retry-after"?: number;
  queue_id?: string;
}

export interface Success {
  result: "success";
  msg: string;
}

export type Answer<T> = (Success & T) | ErrorBody;

/** "true" or "false": see the note above on booleans. */
export type BooleanText = "true" | "false";

export interface Profile {
  user_id: number;
  email: string;
  full_name: string;
  is_bot?: boolean;
}

export interface RegisterParams {
  event_types: string[];
  apply_markdown?: BooleanText;
  /** A JSON-encodable narrow, e.g. [["is", "dm"]]. */
  narrow?: string[][];
}

export interface Registered {
  queue_id: string;
  last_event_id: number;
  zulip_feature_level?: number;
  event_queue_longpoll_timeout_seconds?: number;
}

/** A message object as events and GET /messages give it. */
export interface Message {
  id: number;
  type: "private" | "stream";
  sender_id: number;
  sender_email: string;
  sender_full_name: string;
  content: string;
  /** The stream's name for a stream message; the participants of a direct message. */
  display_recipient: string | { id: number; email: string; full_name: string }[];
  subject?: string;
  stream_id?: number;
  flags?: string[];
}

export interface Event {
  id: number;
  type: string;
  message?: Message;
  /** A message event's flags for this user: "mentioned", "wildcard_mentioned", "read"... */
  flags?: string[];
}

export interface SendParams {
  type: "direct" | "private" | "stream";
  /** User ids (direct), or the stream's name or id (stream). */
  to: number[] | string | number;
  content: string;
  topic?: string;
}

export interface RetrieveParams {
  anchor: number | "newest" | "oldest";
  num_before: number;
  num_after: number;
  include_anchor?: BooleanText;
  apply_markdown?: BooleanText;
  narrow?: { operator: string; operand: string }[];
}

export interface Client {
  users: { me: { getProfile(): Promise<Answer<Profile>> } };
  queues: {
    register(params: RegisterParams): Promise<Answer<Registered>>;
    deregister(params: { queue_id: string }): Promise<Answer<object>>;
  };
  events: {
    retrieve(params: {
      queue_id: string;
      last_event_id: number;
      dont_block?: BooleanText;
    }): Promise<Answer<{ events: Event[] }>>;
  };
  messages: {
    send(params: SendParams): Promise<Answer<{ id: number }>>;
    update(params: { message_id: number; content: string }): Promise<Answer<object>>;
    deleteById(params: { message_id: number }): Promise<Answer<object>>;
    /** zulip-js JSON-encodes `narrow` itself for this GET. */
    retrieve(params: RetrieveParams): Promise<Answer<{ messages: Message[]; found_newest?: boolean }>>;
  };
}

/** The package's export. With an API key given, it resolves without a request. */
export type Zulip = (config: Credentials) => Promise<Client>;
