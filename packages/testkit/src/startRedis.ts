import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ProcessHandle, runProcess } from "./runProcess.js";
import { toolPath } from "./toolPath.js";
import { waitUntilReady } from "./waitUntilReady.js";
import { withFreePorts } from "./withFreePorts.js";

export interface StartRedisOptions {
  /** `requirepass`: clients must AUTH (the URL then carries `:password@`). */
  password?: string;
  /** Serve TLS only (`rediss://`), with this certificate and key; clients are not asked for certificates. */
  tls?: { certPath: string; keyPath: string; caPath: string };
  /** Listen on this port rather than a free one: a server that comes up where a client was told to look. */
  port?: number;
}

export interface RedisServer {
  /** redis://[:password@]127.0.0.1:<port>, or rediss:// with TLS. */
  readonly url: string;
  readonly port: number;
  /** The running server's process id (the benchmark charges its CPU to the row that uses it). */
  readonly pid: number | undefined;
  /** Stops the server but keeps its port (an outage); `start` brings it back, empty. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port. */
  start(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing, as a hung Redis does. */
  freeze(): void;
  /** SIGCONT: a frozen server answers again, its data intact. */
  thaw(): void;
  /** Stops the server and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;

/**
 * Starts a real redis-server on a free loopback port, in memory only (no snapshot, no append-only file), in a
 * temporary folder.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = toolPath("redis-server");
  const dir = await mkdtemp(join(tmpdir(), "totp-redis-"));
  const { password, tls } = options;
  let port = 0;
  let handle: ProcessHandle | undefined;
  let stopped = false;

  const launch = async () => {
    const listen = tls
      ? [
          "--port",
          "0",
          "--tls-port",
          String(port),
          "--tls-cert-file",
          tls.certPath,
          "--tls-key-file",
          tls.keyPath,
          "--tls-ca-cert-file",
          tls.caPath,
          "--tls-auth-clients",
          "no",
        ]
      : ["--port", String(port)];
    const args = [...listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
    if (password) args.push("--requirepass", password);
    const started = runProcess(binary, args, { cwd: dir });
    handle = started;
    await waitUntilReady(
      started,
      { what: `redis-server on 127.0.0.1:${port}`, timeoutMs: READY_TIMEOUT_MS, secrets: password ? [password] : [] },
      // With TLS the server logs readiness itself; a plain one is ready once it answers (NOAUTH counts: it is up).
      async () =>
        tls
          ? /Ready to accept connections/.test(started.stdout) || "not ready yet"
          : /^(\+PONG|-NOAUTH)/.test(await ping(port)) || "no PONG",
    );
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await handle?.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    if (options.port === undefined) {
      await withFreePorts(1, async ([free = 0]) => {
        port = free;
        await launch();
      });
    } else {
      port = options.port;
      await launch();
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const auth = password ? `:${encodeURIComponent(password)}@` : "";
  return {
    url: `${tls ? "rediss" : "redis"}://${auth}127.0.0.1:${port}`,
    port,
    get pid() {
      return handle?.pid;
    },
    async halt() {
      await handle?.stop();
    },
    start: launch,
    freeze: () => handle?.kill("SIGSTOP"),
    thaw: () => handle?.kill("SIGCONT"),
    stop,
  };
}

/** The first line a server answers to an inline PING. */
function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.setTimeout(1000, () => socket.destroy(new Error("no answer to PING")));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      answer += chunk.toString("utf8");
      if (answer.includes("\r\n")) {
        socket.end();
        resolve(answer);
      }
    });
    socket.on("error", reject);
  });
}
