import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { neverReachedServer } from "@totp-custody/chat";
import type { ZulipCredentials } from "./config.js";
import type * as zulip from "./zulip-js.js";

// zulip-js is CommonJS without types: its export, typed by our declarations.
const connect = createRequire(import.meta.url)("zulip-js") as zulip.Zulip;

/** A Zulip API call that failed: Zulip's error `code` (BAD_EVENT_QUEUE_ID, RATE_LIMIT_HIT...), or TIMEOUT. */
export class ZulipApiError extends Error {
  override readonly name = "ZulipApiError";
  constructor(
    readonly code: string,
    message: string,
    /** From the body's `retry-after` on RATE_LIMIT_HIT. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export type ZulipMessage = zulip.Message;
export type ZulipEvent = zulip.Event;

export interface EventQueue {
  id: string;
  lastEventId: number;
  /** How long the server holds a poll before it answers with a heartbeat. */
  longpollMs: number;
  /** The newest message the bot had received when the queue was made: where a read-back can start. */
  maxMessageId: number | undefined;
}

/** The calls the bot makes, each resolving with its result or throwing ZulipApiError. */
export interface ZulipApi {
  me(): Promise<zulip.Profile>;
  register(): Promise<EventQueue>;
  /** Long-polls, or with `dontBlock` answers at once with what is queued. */
  events(
    queue: EventQueue,
    lastEventId: number,
    options: { signal?: AbortSignal; dontBlock?: boolean },
  ): Promise<ZulipEvent[]>;
  deregister(queueId: string): Promise<void>;
  /** The direct messages and the mentions of the bot with ids above `afterId`, oldest first. */
  messagesAfter(afterId: number): Promise<ZulipMessage[]>;
  sendDirect(userId: number, content: string): Promise<number>;
  edit(messageId: number, content: string): Promise<void>;
  delete(messageId: number): Promise<void>;
}

/** zulip-js puts no timeout on a request: a server that stops answering would hold a call forever. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Past the server's long-poll time, the answer (events or a heartbeat) is overdue. */
const LONGPOLL_MARGIN_MS = 20_000;
/** Zulip's default when the register answer does not say. */
const DEFAULT_LONGPOLL_MS = 90_000;
/** Rate-limit waits for one call, at most: then the error goes to the caller. */
const MAX_RATE_LIMIT_WAITS = 5;
const MAX_RATE_LIMIT_WAIT_MS = 60_000;
/** Waits before each new try of a call Zulip could not be reached for: about 15 s in all, then the error stands. */
const UNREACHABLE_WAITS_MS = [500, 1000, 2000, 4000, 8000];
/** At most this many messages are read back after a lost queue; older ones are left unanswered. */
const CATCH_UP_LIMIT = 100;

/** A Zulip answer's result, or its error body as a ZulipApiError. */
function unwrap<T>(answer: zulip.Answer<T>): zulip.Success & T {
  if (answer.result === "success") return answer;
  const retryAfter = answer["retry-after"];
  const code = answer.code ?? (/rate limit/i.test(answer.msg) ? "RATE_LIMIT_HIT" : "BAD_REQUEST");
  throw new ZulipApiError(code, answer.msg, typeof retryAfter === "number" ? retryAfter * 1000 : undefined);
}

/**
 * Which failures to reach Zulip a call may be made again after. `unsent`: only those that prove the request never
 * got there (no connection, no address), for a call that would act twice, as a send would post the message twice.
 * `any`: also a timeout, a cut connection or a proxy's non-JSON error page, for a call that is the same done twice.
 */
type Repeat = "unsent" | "any";

/** Whether `err` says Zulip could not be reached, in a way `repeat` allows to try again after. */
function mayRepeat(err: unknown, repeat: Repeat): boolean {
  if (neverReachedServer(err)) return true;
  if (repeat === "unsent" || !(err instanceof Error)) return false;
  // node-fetch's network errors, zulip-js's error for a body that is not JSON (it carries the response), our timeout.
  return err.name === "FetchError" || "res" in err || (err instanceof ZulipApiError && err.code === "TIMEOUT");
}

async function withTimeout<T>(what: string, ms: number, call: Promise<T>, signal?: AbortSignal): Promise<T> {
  const timer = new AbortController();
  const stop = signal ? AbortSignal.any([signal, timer.signal]) : timer.signal;
  const expiry = sleep(ms, undefined, { signal: stop }).then(
    () => Promise.reject(new ZulipApiError("TIMEOUT", `${what}: no answer within ${ms} ms`)),
    () => Promise.reject(new ZulipApiError("ABORTED", `${what}: stopped`)),
  );
  try {
    return await Promise.race([call, expiry]);
  } finally {
    timer.abort();
    expiry.catch(() => {});
  }
}

export interface ZulipApiOptions {
  /** Told of each rate-limit wait (for the log). */
  onRateLimited?: (what: string, waitMs: number) => void;
  /** Told of each wait before trying again a call that could not reach Zulip (for the log). */
  onUnreachable?: (what: string, waitMs: number, err: Error) => void;
  /** Ends rate-limit waits at shutdown. */
  signal?: AbortSignal;
}

/**
 * The bot's Zulip client: zulip-js for the wire, with what it lacks added here: error bodies become exceptions,
 * every request gets a timeout, a rate-limited call waits the `retry-after` Zulip gave and is made again (a 429
 * means the request was not applied, so repeating it cannot double a message), and a call that could not reach
 * Zulip is made again a few times as its `Repeat` allows, so that a Zulip restart does not lose a reply.
 */
export async function connectZulip(credentials: ZulipCredentials, options: ZulipApiOptions = {}): Promise<ZulipApi> {
  const client = await connect({ realm: credentials.realm, username: credentials.email, apiKey: credentials.apiKey });

  async function call<T>(
    what: string,
    repeat: Repeat,
    request: () => Promise<zulip.Answer<T>>,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ) {
    for (let rateLimited = 0, unreachable = 0; ; ) {
      let waitMs: number;
      try {
        return unwrap(await withTimeout(what, timeoutMs, request()));
      } catch (err) {
        if (err instanceof ZulipApiError && err.code === "RATE_LIMIT_HIT" && rateLimited < MAX_RATE_LIMIT_WAITS) {
          rateLimited++;
          waitMs = Math.min(MAX_RATE_LIMIT_WAIT_MS, Math.max(100, err.retryAfterMs ?? 1000));
          options.onRateLimited?.(what, waitMs);
        } else if (unreachable < UNREACHABLE_WAITS_MS.length && mayRepeat(err, repeat)) {
          waitMs = UNREACHABLE_WAITS_MS[unreachable++] as number;
          options.onUnreachable?.(what, waitMs, err as Error);
        } else {
          throw err;
        }
      }
      await sleep(waitMs, undefined, { signal: options.signal });
    }
  }

  return {
    me: () => call("users/me", "any", () => client.users.me.getProfile()),
    async register() {
      // No narrow: a narrow is an AND of its terms, so none brings both direct messages and stream mentions (a
      // queue narrowed to DMs misses mentions). The bot filters by message type and its `mentioned` flag instead.
      // A second register would leave a queue nobody polls, so only a request that never got there is made again.
      const registered = await call("register", "unsent", () =>
        client.queues.register({ event_types: ["message"], apply_markdown: "false" }),
      );
      return {
        id: registered.queue_id,
        lastEventId: registered.last_event_id,
        longpollMs: (registered.event_queue_longpoll_timeout_seconds ?? 0) * 1000 || DEFAULT_LONGPOLL_MS,
        maxMessageId: registered.max_message_id,
      };
    },
    async events(queue, lastEventId, { signal, dontBlock = false }) {
      // The wait for events is not retried here on a rate limit: the event loop owns its pacing.
      const answer = await withTimeout(
        "events",
        dontBlock ? REQUEST_TIMEOUT_MS : queue.longpollMs + LONGPOLL_MARGIN_MS,
        client.events.retrieve({
          queue_id: queue.id,
          last_event_id: lastEventId,
          ...(dontBlock ? { dont_block: "true" as const } : {}),
        }),
        signal,
      );
      return unwrap(answer).events;
    },
    async deregister(queueId) {
      await call("deregister", "any", () => client.queues.deregister({ queue_id: queueId }));
    },
    async messagesAfter(afterId) {
      const read = (operand: string) =>
        call(`messages is:${operand}`, "any", () =>
          client.messages.retrieve({
            anchor: afterId,
            include_anchor: "false",
            num_before: 0,
            num_after: CATCH_UP_LIMIT,
            apply_markdown: "false",
            narrow: [{ operator: "is", operand }],
          }),
        );
      const [direct, mentions] = await Promise.all([read("dm"), read("mentioned")]);
      const byId = new Map<number, ZulipMessage>();
      for (const message of [...direct.messages, ...mentions.messages]) {
        if (message.id > afterId) byId.set(message.id, message);
      }
      return [...byId.values()].sort((a, b) => a.id - b.id);
    },
    async sendDirect(userId, content) {
      const sent = await call("send", "unsent", () => client.messages.send({ type: "direct", to: [userId], content }));
      return sent.id;
    },
    async edit(messageId, content) {
      await call("edit", "any", () => client.messages.update({ message_id: messageId, content }));
    },
    async delete(messageId) {
      try {
        await call("delete", "any", () => client.messages.deleteById({ message_id: messageId }));
      } catch (err) {
        // The message is gone either way: its sender deleted it first, or our own earlier try did and its answer
        // was lost. Only ids the bot received are deleted, so the id is not a wrong one.
        if (!(err instanceof ZulipApiError && err.message === "Invalid message(s)")) throw err;
      }
    },
  };
}
