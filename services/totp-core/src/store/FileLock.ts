import { randomBytes } from "node:crypto";
import { link, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";

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
        const current = await readHolder(lockPath);
        if (attempt > 0 || (current && !isDead(current))) {
          const who = current
            ? `totp-core pid ${current.pid} on ${current.host} since ${current.since}`
            : "another process";
          throw new Error(
            `${path} is in use by ${who} (lock file ${lockPath}); one process per seed file. ` +
              "If that process is gone, remove the lock file",
          );
        }
        await rm(lockPath, { force: true });
      }
    } finally {
      await rm(staged, { force: true });
    }
  }

  /** Removes the lock file, if it is still ours. */
  async release(): Promise<void> {
    const current = await readHolder(this.#lockPath);
    if (current?.pid === this.#holder.pid && current.since === this.#holder.since) {
      await rm(this.#lockPath, { force: true });
    }
  }
}

/** The holder named in a lock file; undefined when it is gone or unreadable. */
async function readHolder(lockPath: string): Promise<Holder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(lockPath, "utf8")) as Partial<Holder>;
    const { pid, host, since } = parsed;
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
