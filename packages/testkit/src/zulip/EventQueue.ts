import type { NarrowTerm } from "./narrowAccepts.js";
import { ZulipApiError } from "./ZulipApiError.js";

export type ZulipEvent = Record<string, unknown> & { id: number; type: string };

export interface EventQueueSettings {
  queueId: string;
  userId: number;
  /** Absent: every type. */
  eventTypes?: string[];
  narrow: NarrowTerm[];
  applyMarkdown: boolean;
  bulkMessageDeletion: boolean;
  heartbeatMs: number;
}

interface Waiter {
  resolve(events: ZulipEvent[]): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** The error every request on a queue that is gone gets. */
export function badEventQueue(queueId: string): ZulipApiError {
  return new ZulipApiError(400, `Bad event queue id: ${queueId}`, "BAD_EVENT_QUEUE_ID", { queue_id: queueId });
}

/**
 * One client's event queue: events keep increasing ids and stay until a poll acknowledges them (last_event_id), and
 * at most one poll is held at a time, released by the next event or, after `heartbeatMs`, by a heartbeat.
 */
export class EventQueue {
  private events: ZulipEvent[] = [];
  private nextEventId = 0;
  private waiter: Waiter | undefined;
  private gone = false;
  /** When a client last polled or stopped polling: what idle expiry counts from. */
  lastActivity = Date.now();

  constructor(readonly settings: EventQueueSettings) {}

  get queueId(): string {
    return this.settings.queueId;
  }

  get polling(): boolean {
    return this.waiter !== undefined;
  }

  get pendingEvents(): number {
    return this.events.length;
  }

  get lastEventId(): number {
    return this.nextEventId - 1;
  }

  accepts(type: string): boolean {
    return this.settings.eventTypes === undefined || this.settings.eventTypes.includes(type);
  }

  push(event: Record<string, unknown> & { type: string }): void {
    if (this.gone) return;
    this.events.push({ ...event, id: this.nextEventId++ });
    this.release();
  }

  /** Acknowledges events up to `lastEventId` and answers the rest, waiting for one unless `dontBlock`. */
  poll(lastEventId: number, dontBlock: boolean): Promise<ZulipEvent[]> {
    if (this.gone) return Promise.reject(badEventQueue(this.queueId));
    this.lastActivity = Date.now();
    this.events = this.events.filter((event) => event.id > lastEventId);
    if (this.events.length > 0 || dontBlock) return Promise.resolve([...this.events]);
    // A newer poll replaces a held one (a client that gave up and asked again); the old one gets nothing new.
    this.answerWaiter((waiter) => waiter.resolve([]));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.push({ type: "heartbeat" }), this.settings.heartbeatMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** The client went away while its poll was held. */
  cancelPoll(): void {
    this.answerWaiter(() => {});
  }

  /** Drops the queue: a held poll and every later request get BAD_EVENT_QUEUE_ID. */
  expire(): void {
    this.gone = true;
    this.events = [];
    this.answerWaiter((waiter) => waiter.reject(badEventQueue(this.queueId)));
  }

  /** Stops the heartbeat timer when the server closes; the held request's socket is closed by the server. */
  shutdown(): void {
    this.gone = true;
    this.answerWaiter(() => {});
  }

  private release(): void {
    this.answerWaiter((waiter) => waiter.resolve([...this.events]));
  }

  private answerWaiter(answer: (waiter: Waiter) => void): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    clearTimeout(waiter.timer);
    this.lastActivity = Date.now();
    answer(waiter);
  }
}
