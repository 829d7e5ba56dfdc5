import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "@totp-custody/testkit";
import { describe, expect, it } from "vitest";

const FILE_LOCK = fileURLToPath(new URL("../dist/store/FileLock.js", import.meta.url));
const PROCESSES = 12;
const ROUNDS = 10;
/** Long enough that every process of a round has tried while the winner still holds the lock. */
const HOLD_MS = 1500;

/** Takes the lock of argv[1] in a process of its own and holds it HOLD_MS; prints whether it got it. */
const TAKE = `
import { FileLock } from ${JSON.stringify(FILE_LOCK)};
try {
  const lock = await FileLock.acquire(process.argv[1]);
  process.stdout.write("held");
  await new Promise((resolve) => setTimeout(resolve, ${HOLD_MS}));
  await lock.release();
} catch {
  process.stdout.write("refused");
}
`;

/** What one process said: "held" or "refused" (stderr kept by runProcess, for a failure's message). */
const take = async (path: string): Promise<string> => {
  const child = runProcess("node", ["--input-type=module", "-e", TAKE, path]);
  await child.exited;
  return child.stdout || child.stderr;
};

/**
 * A process killed without removing its lock leaves a lock file that the next start takes over. Started together
 * after such a crash (a supervisor's restart and an operator's, say), processes on one host all find that dead
 * holder's lock: exactly one may take it, or two would run on the seed file and undo each other's writes.
 */
describe("the seed file's lock after its holder died", () => {
  it(`goes to exactly one of ${PROCESSES} processes that start at once, in each of ${ROUNDS} rounds`, async () => {
    const held: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dir = await mkdtemp(join(tmpdir(), "file-lock-race-"));
      try {
        const dead = runProcess("node", ["-e", ""]);
        await dead.exited;
        const seedFile = join(dir, "seeds.enc");
        await writeFile(
          `${seedFile}.lock`,
          `${JSON.stringify({ pid: dead.pid, host: hostname(), since: "2026-01-01T00:00:00.000Z" })}\n`,
        );
        const outcomes = await Promise.all(Array.from({ length: PROCESSES }, () => take(seedFile)));
        expect(outcomes.every((o) => o === "held" || o === "refused")).toBe(true);
        held.push(outcomes.filter((o) => o === "held").length);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    expect(held).toEqual(Array.from({ length: ROUNDS }, () => 1));
  });
});
