import { randomBytes } from "node:crypto";
import { link, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

/** Who holds a lock, as written in the lock file. */
interface Holder {
  pid: number;
  host: string;
  since: string;
}

/**
 * An exclusive claim on a file by one process, as a lock file `<path>.lock` naming the holder (pid, host, since).
 * The file store holds its whole content in memory and writes it whole, so a second process on the same file would
 * silently undo the first one's writes: it must not start. A lock left by a process that died (kill -9, a crash)
 * is taken over at once when its pid no longer runs on this host (or is our own pid: a restarted container is pid 1
 * again), so a restart is never blocked; a holder on another host cannot be checked and is reported.
 */
export class FileLock {
  readonly #lockPath: string;
  readonly #holder: Holder;

  private constructor(lockPath: string, holder: Holder) {
    this.#lockPath = lockPath;
    this.#holder = holder;
  }

  /** Takes the lock of `path`, or throws naming the process that holds it. */
  static async acquire(path: string): Promise<FileLock> {
    const lockPath = `${path}.lock`;
    const holder: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    // Written whole under a temporary name, then linked into place: link fails if the lock exists, so the lock file
    // is never seen half-written and two processes cannot both create it.
    const staged = `${lockPath}.${randomBytes(6).toString("hex")}`;
    await writeFile(staged, `${JSON.stringify(holder)}\n`, { flag: "wx", mode: 0o600 });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await link(staged, lockPath);
          return new FileLock(lockPath, holder);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
        const current = await readLockFile(lockPath);
        // Gone between the link and the read: another process is taking a dead holder's lock over; try again.
        if (current === undefined && attempt < MAX_ATTEMPTS) continue;
        const named = holderOf(current);
        if (attempt >= MAX_ATTEMPTS || (named && !isDead(named))) {
          const who = named ? `totp-core pid ${named.pid} on ${named.host} since ${named.since}` : "another process";
          throw new Error(
            `${path} is in use by ${who} (lock file ${lockPath}); one process per seed file. ` +
              "If that process is gone, remove the lock file",
          );
        }
        await takeOver(lockPath, current as string, staged);
      }
    } finally {
      await rm(staged, { force: true });
    }
  }

  /** Removes the lock file, if it is still ours. */
  async release(): Promise<void> {
    const current = holderOf(await readLockFile(this.#lockPath));
    if (current?.pid === this.#holder.pid && current.since === this.#holder.since) {
      await rm(this.#lockPath, { force: true });
    }
  }
}

/** How many times acquire tries again while other processes take the same dead holder's lock over. */
const MAX_ATTEMPTS = 50;
const TAKEOVER_PAUSE_MS = 10;

/**
 * Removes the lock file of a dead holder, if it is still the one read (`stale`), and only while holding
 * `<lock>.takeover`: two processes that both found the dead holder's lock would otherwise both remove it, the
 * second one removing the lock the first had just taken, and both would run on the file. The takeover file is held
 * for two file operations; one left by a process that died holding it is removed like a dead holder's lock.
 */
async function takeOver(lockPath: string, stale: string, staged: string): Promise<void> {
  const takeover = `${lockPath}.takeover`;
  try {
    await link(staged, takeover);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const otherHolder = holderOf(await readLockFile(takeover));
    if (otherHolder === undefined || isDead(otherHolder)) await rm(takeover, { force: true });
    await sleep(TAKEOVER_PAUSE_MS);
    return;
  }
  try {
    if ((await readLockFile(lockPath)) === stale) await rm(lockPath, { force: true });
  } finally {
    await rm(takeover, { force: true });
  }
}

/** A lock file's text; undefined when it is gone. */
async function readLockFile(lockPath: string): Promise<string | undefined> {
  try {
    return await readFile(lockPath, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The holder named in a lock file's text; undefined when the file is gone or names none (anyone's to take). */
function holderOf(text: string | undefined): Holder | undefined {
  if (text === undefined) return undefined;
  try {
    const { pid, host, since } = JSON.parse(text) as Partial<Holder>;
    return typeof pid === "number" && typeof host === "string" && typeof since === "string"
      ? { pid, host, since }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the holder's process is known not to run any more: same host, and its pid is ours or not running. */
function isDead(holder: Holder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
