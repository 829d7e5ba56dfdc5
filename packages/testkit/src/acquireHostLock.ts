import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const LOCK_ROOT = "/run/lock";

/**
 * A lock held by one process on the whole machine (a folder in /run/lock holding the holder's pid): for what can
 * exist once per host, such as a cluster with a fixed bridge name and fixed node ports. Waits up to `waitMs` for a
 * live holder; a dead holder's lock is taken over. Answers the release function. A process that holds it already
 * gets it again at once, with a release that does nothing: the outer holder releases it.
 */
export async function acquireHostLock(name: string, waitMs: number): Promise<() => Promise<void>> {
  const lock = join(LOCK_ROOT, name);
  await mkdir(LOCK_ROOT, { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, "pid"), String(process.pid));
      return () => rm(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "0"));
      if (holder === process.pid) return async () => {};
      if (holder && !isAlive(holder)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by process ${holder || "(starting)"}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
