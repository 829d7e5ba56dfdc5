// Runs a server entry point as several processes behind one port (Node's cluster module: the primary accepts the
// connections and hands them out in turn), to show how a server scales over the machine's cores. Node 20 has no
// SO_REUSEPORT for net servers and grpc-js has no option for it, so this is the way to share one port.
//
// Usage: node cluster.js <processes> <entry.js>. The environment goes to every worker; TOTP_AUDIT_FILE gets a
// per-worker suffix, since each process keeps its own hash chain (as replicas do). Prints
// `cluster ready {"pids":[...]}` (primary first) once every worker listens; SIGTERM stops the workers, then itself.

import cluster, { type Worker } from "node:cluster";

const [countText = "", entry = ""] = process.argv.slice(2);
const count = Number(countText);
if (!Number.isInteger(count) || count < 1 || !entry) {
  process.stderr.write("usage: node cluster.js <processes> <entry.js>\n");
  process.exit(2);
}

cluster.setupPrimary({ exec: entry, args: [] });
const workers: Worker[] = [];
const listening = new Set<number>();
let stopping = false;

for (let i = 0; i < count; i++) {
  const audit = process.env.TOTP_AUDIT_FILE;
  workers.push(cluster.fork(audit ? { TOTP_AUDIT_FILE: `${audit}.${i}` } : {}));
}

cluster.on("listening", (worker) => {
  listening.add(worker.id);
  if (listening.size === count) {
    const pids = [process.pid, ...workers.map((w) => w.process.pid)];
    process.stdout.write(`cluster ready ${JSON.stringify({ pids })}\n`);
  }
});

let running = count;
cluster.on("exit", (worker, code, signal) => {
  running--;
  // One worker gone means the measurement is off: stop them all and say so.
  if (!stopping) {
    process.stderr.write(`worker ${worker.process.pid} exited (${signal ?? code}); stopping\n`);
    stop(1);
  }
  if (running === 0) process.exit();
});

function stop(exitCode: number): void {
  if (stopping) return;
  stopping = true;
  process.exitCode = exitCode;
  for (const worker of workers) worker.process.kill("SIGTERM");
}

process.once("SIGTERM", () => stop(0));
