import { createHmac, hash, randomBytes } from "node:crypto";
import { closeSync, fdatasync, fstatSync, openSync, readSync, statSync, write } from "node:fs";
import type { Writable } from "node:stream";
import { promisify } from "node:util";
import { looksLikeSeed } from "@totp-custody/contract";
import type { ErrorCode } from "../errors.js";
import { isLabelName } from "../policy/labelName.js";

/**
 * What the audit log keeps of one finished RPC. There is deliberately no field that could hold a seed or a code,
 * and only these fields are ever written (extra properties of the object passed in are ignored): redaction holds
 * by construction instead of depending on a filter that someone could forget to extend.
 */
export interface AuditEntry {
  /** The caller's request id, or the one the server assigned. */
  requestId: string;
  /** The identity in the client certificate. */
  client: string;
  /** Whom the call acted for; absent when the call failed before a principal was known. */
  principal?: string;
  /** The RPC method, e.g. "GenerateCode". */
  method: string;
  /** Absent for calls that name no label. */
  label?: string;
  outcome: "ok" | ErrorCode;
  /** The numeric gRPC status code sent to the caller. */
  status: number;
  latencyMs: number;
  /** For a summary line (method "RefusedCalls"): how many refused calls it stands for. */
  count?: number;
}

/**
 * The most bytes one audit line can take, newline included: every field has a bound (below), and a value over its
 * bound is written as its length and fingerprint. What a flood of refused calls can write follows from it.
 */
export const MAX_AUDIT_LINE_BYTES = 1280;

/** The most bytes each field's JSON value may take; a longer value is written as `redacted` would. */
const MAX_FIELD_BYTES = { requestId: 130, client: 300, principal: 200, method: 34 } as const;

/** Hex digits of a fingerprint: 64 bits, enough to tell values apart, far too few to hold one. */
const FINGERPRINT_CHARS = 16;

/**
 * The least time between the starts of two file writes. Each write ends with an fdatasync, about 90 us of kernel CPU
 * (ext4 on a virtual disk) however few lines it carries; back to back under load, each sync carried one or two lines
 * and the syncs took a third of a call's CPU. A write due sooner waits out the rest of the interval and takes every
 * line that came meanwhile: at most 1000 syncs a second, and a line waits at most a millisecond more, only while
 * the log is busy (a write after a quiet spell starts at once).
 */
const SYNC_INTERVAL_MS = 1;

/** The `prev` of a run's first line when nothing came before it (a new file, or stdout). */
export const GENESIS = "0".repeat(64);

/** How every line ends: its own hash, over the line's text before this suffix. */
export const HASH_FIELD = /,"hash":"([0-9a-f]{64})"\}$/;

/**
 * The hash a line carries and the next line's `prev` repeats: HMAC-SHA-256 of the line's text before its
 * `,"hash":` under the audit key, or plain SHA-256 without one (which anyone who can write the file can redo, so
 * it only shows accidents).
 */
export function auditLineHash(content: string, key: Buffer | undefined): string {
  // The one-shot hash skips creating a Hash object: about twice as fast, and this runs once per RPC.
  return key === undefined ? hash("sha256", content, "hex") : createHmac("sha256", key).update(content).digest("hex");
}

/**
 * What a run appending to `fd` links its first line to: the hash of the file's last line, or GENESIS for an empty
 * file (or one whose last line is not a complete audit line of this format). Also whether the file ends without a
 * newline (a write cut by a crash), so the run's first line starts on a line of its own.
 */
function tailOf(fd: number): { prev: string; cut: boolean } {
  const size = fstatSync(fd).size;
  if (size === 0) return { prev: GENESIS, cut: false };
  const length = Math.min(size, MAX_AUDIT_LINE_BYTES * 2);
  const buffer = Buffer.alloc(length);
  readSync(fd, buffer, 0, length, size - length);
  const text = buffer.toString("utf8");
  if (!text.endsWith("\n")) return { prev: GENESIS, cut: true };
  const last = text.slice(text.lastIndexOf("\n", text.length - 2) + 1, -1);
  return { prev: HASH_FIELD.exec(last)?.[1] ?? GENESIS, cut: false };
}

/** Lines enqueued while another write is in flight; they share one write and one promise. */
interface Batch {
  data: string;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { data: "", promise, resolve, reject };
}

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

/**
 * Whether the file open at `fd` is no longer the one at `path`: deleted (nothing at the path) or replaced (another
 * inode there, as after a rename by logrotate without the SIGHUP). Lines written to it then would reach no one.
 * Synchronous on purpose: two stat calls on a local path take about a microsecond each, while their async forms
 * go through libuv's thread pool and cost some 30 us of CPU per batch, which with batches of one or two lines at
 * full load was most of the audit's share of a call.
 */
function detached(fd: number, path: string): boolean {
  const atPath = statSync(path, { throwIfNoEntry: false });
  if (atPath === undefined) return true;
  const open = fstatSync(fd);
  return atPath.ino !== open.ino || atPath.dev !== open.dev;
}

async function appendDurably(fd: number, data: string): Promise<void> {
  const bytes = Buffer.from(data);
  // A file can take fewer bytes than asked; finishing the rest keeps a line from being cut in two.
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await writeAsync(fd, bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
  // fdatasync so an answered call survives a machine crash too; group commit pays for it once per batch.
  await fdatasyncAsync(fd);
}

/**
 * A JSON string literal. Ids, names and labels rarely need escaping, and quoting them directly is several times
 * cheaper than JSON.stringify; anything with a quote, backslash, control character or surrogate takes the general
 * path, so the output is always the exact JSON.stringify result.
 */
function jsonString(s: string | undefined): string {
  if (s === undefined) return "null";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}
// NaN or Infinity would make the line invalid JSON.
const jsonNumber = (n: number): string => (Number.isFinite(n) ? String(n) : "null");

/** Whether a JSON value fits `max` bytes of UTF-8; the exact count only when its characters could be wide. */
const fits = (json: string, max: number): boolean =>
  json.length <= max && (json.length * 3 <= max || Buffer.byteLength(json) <= max);

/** The shortest text looksLikeSeed can take for a seed; most fields are shorter, and skip the check. */
const SHORTEST_SEED = 16;
const mayBeSeed = (value: string): boolean => value.length >= SHORTEST_SEED && looksLikeSeed(value);

/** How many values each RenderedValues keeps; past it, it starts over, so a flood of distinct values costs no memory. */
const RENDERED_VALUES_KEPT = 4096;

/** A field's rendered JSON values by the value sent, up to RENDERED_VALUES_KEPT of them. */
class RenderedValues {
  private readonly values = new Map<string, string>();

  constructor(private readonly render: (value: string) => string) {}

  get(value: string | undefined): string {
    if (value === undefined) return "null";
    let json = this.values.get(value);
    if (json === undefined) {
      json = this.render(value);
      if (this.values.size >= RENDERED_VALUES_KEPT) this.values.clear();
      this.values.set(value, json);
    }
    return json;
  }
}

export interface AuditLogOptions {
  /**
   * The audit key (TOTP_AUDIT_KEY_FILE): keys each line's hash (HMAC-SHA-256), so that the chain cannot be redone
   * without it, and the fingerprints of redacted values, so that they cannot be reversed by trying candidates.
   * Without it the chain is plain SHA-256 and fingerprints use a random key of the process (they match within
   * one run only).
   */
  key?: Buffer;
  /** Told when the file was found deleted or replaced before a write, and opened again at its path. */
  onReopenedDetached?: () => void;
}

/**
 * The hash-chained audit log: one JSON line per RPC, each ending with its own hash (keyed with the audit key) and
 * carrying the previous line's as `prev`, so that an edited, deleted or reordered line shows (see
 * verifyAuditChain). A run's first line (`start`) links to the last line already in the file, so a deleted run,
 * or a run's cut tail, shows too.
 *
 * Group commit: `record` hashes and enqueues its line at once (so the chain follows call order); a write starts
 * at the end of the event-loop turn (setImmediate) and carries every line recorded in that turn, and the lines
 * that arrive while a write is in flight all go out in the next single write (+ fdatasync for a file; file writes
 * start at least SYNC_INTERVAL_MS apart, so that a busy log syncs more lines at a time). Each
 * promise resolves once the write holding its line is done, so a call's answer can wait for its audit line
 * without every call paying for its own write. Writing as soon as a line arrives would give the first call of
 * every turn a write of its own: an fdatasync costs the same (0.1-0.2 ms of kernel time on a virtual disk) for
 * one line as for a hundred, and a pipe write to stdout one system call per line. Waiting for the end of the
 * turn adds no more latency than the rest of the turn's work.
 *
 * After a failed write every later `record` rejects with that error: the log cannot promise that an answered
 * call is in it any more, so the service fails closed rather than answering unaudited calls.
 */
export class AuditLog {
  private seq = 0;
  private pending: Batch | undefined;
  private inFlight: Batch | undefined;
  private failure: unknown;
  private closed = false;
  private writes = 0;
  /** toISOString is costly next to the rest of a line; calls within one millisecond share the string. */
  private isoMs = Number.NaN;
  private iso = "";

  /** A write is due at the end of this event-loop turn, or once the write interval is over. */
  private flushScheduled = false;
  /** When the last write started (performance.now()). */
  private lastWriteAt = Number.NEGATIVE_INFINITY;

  private readonly fingerprintKey: Buffer;
  /**
   * The JSON values of the fields that repeat from call to call (client, principal, label), as rendered before:
   * checking a value for a seed costs more than the rest of its line, and a busy service sees few distinct ones.
   */
  private readonly clients = new RenderedValues((value) => this.bounded(value, MAX_FIELD_BYTES.client));
  private readonly principals = new RenderedValues((value) => this.bounded(value, MAX_FIELD_BYTES.principal));
  private readonly labels = new RenderedValues((label) => this.labelValue(label));
  private readonly key: Buffer | undefined;
  private bytes = 0;

  private constructor(
    private readonly writeBatch: (data: string) => Promise<void>,
    private readonly release: () => void,
    /** The least time from one write's start to the next one's: see SYNC_INTERVAL_MS. */
    private readonly writeIntervalMs: number,
    options: AuditLogOptions,
    /** The hash the run's first line links to: the last line already in the file, or GENESIS. */
    private prev: string,
    /** Asks the sink to open its file again before its next write; false when it has no file to reopen. */
    readonly reopen: () => boolean = () => false,
  ) {
    this.key = options.key;
    this.fingerprintKey = options.key ?? randomBytes(32);
  }

  /**
   * Appends to a file, created owner-only when missing. Opened at once so a bad path fails at start.
   *
   * `reopen()` makes the next write open the path again, for log rotation: once the file has been renamed, the
   * lines go to a new file at the path. Batches are written one after another, so the switch falls between two
   * writes and no line is split between files; the chain goes on across them (verify rotated files together,
   * oldest first). A file deleted or replaced under the process is noticed before the next write and opened again
   * the same way. A reopen that fails fails that write, and the log fails closed as for any failed write.
   */
  static toFile(path: string, options: AuditLogOptions = {}): AuditLog {
    // "a+": appends, and lets the start read the last line the run links to.
    let fd = openSync(path, "a+", 0o600);
    const tail = tailOf(fd);
    let reopenWanted = false;
    let cut = tail.cut;
    return new AuditLog(
      // async, so that a failed open becomes this write's rejection rather than an exception in a timer.
      async (data) => {
        // Checked before every batch (two stat calls, shared by the batch's lines): without it, a deleted file
        // would take every later line into an unlinked inode while the calls are answered OK.
        const gone = !reopenWanted && detached(fd, path);
        if (reopenWanted || gone) {
          reopenWanted = false;
          const previous = fd;
          fd = openSync(path, "a", 0o600);
          closeSync(previous);
          if (gone) options.onReopenedDetached?.();
        }
        if (cut) {
          cut = false;
          return appendDurably(fd, `\n${data}`);
        }
        return appendDurably(fd, data);
      },
      () => closeSync(fd),
      SYNC_INTERVAL_MS,
      options,
      tail.prev,
      () => {
        reopenWanted = true;
        return true;
      },
    );
  }

  /** Writes to a stream, by default stdout beside the service log (the lines carry "log":"audit"). */
  static toStream(stream: Writable = process.stdout, options: AuditLogOptions = {}): AuditLog {
    return new AuditLog(
      (data) => new Promise((resolve, reject) => stream.write(data, (err) => (err ? reject(err) : resolve()))),
      // The stream belongs to the caller (stdout must stay open for the service log).
      () => {},
      0,
      options,
      // A stream cannot be read back: the run starts from GENESIS; an anchored head covers what came before.
      GENESIS,
    );
  }

  /** The last line recorded: its seq in this run and its hash, for anchoring outside the host. */
  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.prev };
  }

  /** True once a write failed: every later record() is refused, so the service can answer nothing. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Bytes of audit lines written so far (for the metric operators alert on before the volume fills). */
  get bytesWritten(): number {
    return this.bytes;
  }

  /** How many writes went out; fewer than the lines recorded when group commit batched them. */
  get flushes(): number {
    return this.writes;
  }

  /** Resolves once the entry's line is written (and synced, for a file). */
  record(entry: AuditEntry): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error("audit log is closed"));
    this.seq++;
    const ms = Date.now();
    if (ms !== this.isoMs) {
      this.isoMs = ms;
      this.iso = new Date(ms).toISOString();
    }
    const content =
      '{"log":"audit","time":"' +
      this.iso +
      '","requestId":' +
      this.bounded(entry.requestId, MAX_FIELD_BYTES.requestId) +
      ',"client":' +
      this.clients.get(entry.client) +
      ',"principal":' +
      this.principals.get(entry.principal) +
      ',"method":' +
      this.bounded(entry.method, MAX_FIELD_BYTES.method) +
      ',"label":' +
      this.labels.get(entry.label) +
      ',"outcome":' +
      this.bounded(entry.outcome, MAX_FIELD_BYTES.method) +
      ',"status":' +
      jsonNumber(entry.status) +
      ',"latencyMs":' +
      jsonNumber(Math.round(entry.latencyMs * 1000) / 1000) +
      (entry.count === undefined ? "" : `,"count":${jsonNumber(entry.count)}`) +
      ',"prev":"' +
      this.prev +
      '","seq":' +
      this.seq +
      (this.seq === 1 ? ',"start":true' : "");
    this.prev = auditLineHash(content, this.key);
    const line = `${content},"hash":"${this.prev}"}`;
    this.pending ??= newBatch();
    this.pending.data += `${line}\n`;
    const { promise } = this.pending;
    if (this.inFlight === undefined) this.scheduleFlush();
    return promise;
  }

  /**
   * A string field's JSON value: as sent when it fits its bound and does not look like a seed, else only its length
   * and a keyed fingerprint, so that no request field can make a line long or put a pasted seed in the log.
   */
  private bounded(value: string | undefined, maxBytes: number): string {
    if (value === undefined) return "null";
    const json = jsonString(value);
    return fits(json, maxBytes) && !mayBeSeed(value) ? json : this.redacted(value);
  }

  /**
   * A label is written only when it is a valid label name that does not look like a seed: anything else was refused
   * and may be anything, and a seed lower-cased is a valid label name.
   */
  private labelValue(label: string | undefined): string {
    if (label === undefined) return "null";
    return isLabelName(label) && !mayBeSeed(label) ? `"${label}"` : this.redacted(label);
  }

  private redacted(value: string): string {
    const fingerprint = createHmac("sha256", this.fingerprintKey).update(value).digest("hex");
    return `{"length":${value.length},"fingerprint":"${fingerprint.slice(0, FINGERPRINT_CHARS)}"}`;
  }

  /** Waits for every recorded line to be written, then releases the file. Later `record` calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await (this.pending ?? this.inFlight)?.promise;
    } finally {
      this.release();
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    const wait = this.lastWriteAt + this.writeIntervalMs - performance.now();
    if (wait > 0) setTimeout(run, wait);
    else setImmediate(run);
  }

  private flush(): void {
    const batch = this.pending;
    if (batch === undefined) return;
    this.pending = undefined;
    this.inFlight = batch;
    this.writes++;
    this.lastWriteAt = performance.now();
    this.writeBatch(batch.data).then(
      () => {
        this.inFlight = undefined;
        this.bytes += Buffer.byteLength(batch.data);
        // Schedule the next write before waking this batch's callers, so lines never wait for an idle sink.
        this.scheduleFlush();
        batch.resolve();
      },
      (err: unknown) => {
        this.inFlight = undefined;
        this.failure = err;
        batch.reject(err);
        this.pending?.reject(err);
        this.pending = undefined;
      },
    );
  }
}
