import { type ChildProcess, spawn } from "node:child_process";

export interface RunProcessOptions {
  /** Added to this process's environment; a key set to undefined is removed from the child's. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Keep only the last this many characters of each stream (all by default): a child that writes a line per call
   * (totp-core's audit log on stdout) for half an hour would otherwise fill this process's memory.
   */
  outputTail?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessHandle {
  readonly pid: number | undefined;
  /** Everything the process wrote so far (its last `outputTail` characters when that is set). */
  readonly stdout: string;
  readonly stderr: string;
  /** Settles once the process has exited and its output is complete; rejects only when it could not start. */
  readonly exited: Promise<ExitStatus>;
  /** The first match of `pattern` in stdout or stderr; rejects on timeout or exit, quoting the output's end. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
  stop(graceMs?: number): Promise<ExitStatus>;
}

const running = new Set<ChildProcess>();

// A test that fails before its afterAll, or a worker that exits early, must not leave servers behind holding ports.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

const OUTPUT_TAIL = 2000;

/** Starts a child process and keeps its output for assertions. */
export function runProcess(command: string, args: readonly string[], options: RunProcessOptions = {}): ProcessHandle {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let stdout = "";
  let stderr = "";
  let exitStatus: ExitStatus | undefined;
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const watcher of watchers) watcher();
  };
  const tail = options.outputTail;
  const keep = (text: string) => (tail !== undefined && text.length > tail ? text.slice(-tail) : text);
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout = keep(stdout + chunk);
    notify();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = keep(stderr + chunk);
    notify();
  });

  const exited = new Promise<ExitStatus>((resolve, reject) => {
    child.on("error", (error) => {
      running.delete(child);
      reject(new Error(`${command} could not start: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      running.delete(child);
      exitStatus = { code, signal };
      resolve(exitStatus);
    });
  });
  // Callers that never await `exited` must not see an unhandled rejection; waitForOutput reports the failure too.
  exited.catch(() => {});

  const describe = () => `${command}: ${`${stdout}\n${stderr}`.trim().slice(-OUTPUT_TAIL)}`;

  return {
    get pid() {
      return child.pid;
    },
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForOutput(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const settle = (outcome: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          outcome();
        };
        const check = () => {
          const match = stdout.match(pattern) ?? stderr.match(pattern);
          const status = exitStatus;
          if (match) settle(() => resolve(match));
          else if (status)
            settle(() => reject(new Error(`exited (${formatStatus(status)}) before ${pattern}; ${describe()}`)));
        };
        const timer = setTimeout(
          () => settle(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; ${describe()}`))),
          timeoutMs,
        );
        watchers.add(check);
        exited.then(check, (error: Error) => settle(() => reject(error)));
        check();
      });
    },
    kill(signal = "SIGTERM") {
      if (!exitStatus) child.kill(signal);
    },
    async stop(graceMs = 5000) {
      if (exitStatus) return exitStatus;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function formatStatus(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}
