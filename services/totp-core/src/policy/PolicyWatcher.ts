import { createHash } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { dirname } from "node:path";
import type { Policy } from "./Policy.js";
import { PolicyError } from "./PolicyError.js";
import { parsePolicy } from "./parsePolicy.js";

export interface PolicyWatcherOptions {
  /** The policy file. It may be a symlink, as in a Kubernetes ConfigMap mount. */
  readonly file: string;
  /** How often the file is compared with the live policy even when fs.watch says nothing. Default 2000 ms. */
  readonly pollIntervalMs?: number;
  /** How long changed content must read the same before it is applied. Default 100 ms. */
  readonly settleMs?: number;
  // The callbacks run from a timer: they must not throw (log and return).
  /** A changed file was applied. */
  readonly onReload?: (policy: Policy) => void;
  /** A changed file could not be read or is invalid; the previous policy stays live. */
  readonly onError?: (err: PolicyError) => void;
}

// A writer that truncates and then writes (an editor, `cat >`, writeFile) leaves an empty or half-written file for a
// moment. An empty file is a valid policy that admits no one, so a change is applied only once two reads this far
// apart agree.
const SETTLE_MS = 100;

const digest = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * The live policy from a file: loaded at construction (throws PolicyError naming the file), then reloaded whenever
 * the content changes. Kubernetes updates a ConfigMap mount by swapping the `..data` symlink, which a watch on the
 * file itself misses, so it watches the directory and, since fs.watch is not reliable everywhere (network
 * filesystems, a symlink to another directory), also compares the content's hash on a timer.
 * A change is applied once it has read the same for the settle time, never on the first read that sees it.
 * Reads are synchronous: the file is a few KB on a local volume, and checks can then never overlap.
 */
export class PolicyWatcher {
  readonly #file: string;
  readonly #onReload: (policy: Policy) => void;
  readonly #onError: (err: PolicyError) => void;
  readonly #timer: NodeJS.Timeout;
  readonly #watcher: FSWatcher | undefined;
  readonly #settleMs: number;
  /** The check fs.watch asks for, once its burst of events is over. */
  #debounce: NodeJS.Timeout | undefined;
  /** The second read of changed content; set whenever #pending is. */
  #confirm: NodeJS.Timeout | undefined;
  #policy: Policy;
  /** The content (or read failure) last applied or reported, good or bad: each change is parsed and reported once. */
  #seen: string;
  /** Changed content read once, waiting for its confirming read. */
  #pending: string | undefined;

  constructor(options: PolicyWatcherOptions) {
    this.#file = options.file;
    this.#onReload = options.onReload ?? (() => {});
    this.#onError = options.onError ?? (() => {});
    this.#settleMs = options.settleMs ?? SETTLE_MS;
    const text = read(this.#file);
    if (text instanceof PolicyError) throw text;
    const policy = parseFile(this.#file, text);
    if (policy instanceof PolicyError) throw policy;
    this.#policy = policy;
    this.#seen = digest(text);
    this.#timer = setInterval(() => this.#check(), options.pollIntervalMs ?? 2_000).unref();
    this.#watcher = this.#watchDirectory();
  }

  /** The policy in force now. */
  current(): Policy {
    return this.#policy;
  }

  /** Stops watching; current() keeps answering the last policy. */
  close(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
    clearTimeout(this.#confirm);
    this.#watcher?.close();
  }

  #watchDirectory(): FSWatcher | undefined {
    try {
      const watcher = watch(dirname(this.#file), { persistent: false }, () => {
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => this.#check(), this.#settleMs).unref();
      });
      // Without a listener an error would crash the process; the poll keeps the policy current without the watch.
      watcher.on("error", () => watcher.close());
      return watcher;
    } catch {
      // fs.watch can fail (no inotify watches left, unsupported filesystem): the poll alone keeps the policy current.
      return undefined;
    }
  }

  /** Compares the file with the live policy; `confirming` is the second read of pending content. */
  #check(confirming = false): void {
    const text = read(this.#file);
    // A read failure counts as content too, so a missing file is reported once rather than on every poll.
    const seen = typeof text === "string" ? digest(text) : text.message;
    if (seen === this.#seen) {
      this.#pending = undefined;
      clearTimeout(this.#confirm);
      return;
    }
    if (seen !== this.#pending) {
      this.#pending = seen;
      clearTimeout(this.#confirm);
      this.#confirm = setTimeout(() => this.#check(true), this.#settleMs).unref();
      return;
    }
    // Pending content seen again by a poll or a watch event before its confirming read: that read decides.
    if (!confirming) return;
    this.#pending = undefined;
    this.#seen = seen;
    const next = typeof text === "string" ? parseFile(this.#file, text) : text;
    if (next instanceof PolicyError) {
      this.#onError(next);
    } else {
      this.#policy = next;
      this.#onReload(next);
    }
  }
}

// Failures are returned rather than thrown: the constructor throws them, a reload reports them.

function read(file: string): string | PolicyError {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    return new PolicyError(`${file}: cannot read the policy file (${reason})`, { cause: err });
  }
}

function parseFile(file: string, text: string): Policy | PolicyError {
  try {
    return parsePolicy(text);
  } catch (err) {
    return new PolicyError(`${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
