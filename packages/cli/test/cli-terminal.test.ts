import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codesBetween, newSecret } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../src/exitCodes.js";
import { type CliFixture, startCliFixture } from "./cliFixture.js";
import { controlCharactersIn } from "./controlCharactersIn.js";
import { runTotpctl, TOTPCTL } from "./runTotpctl.js";
import { runInTerminal } from "./terminal.js";

let fx: CliFixture;
let workDir: string;
const seeds: string[] = [];
const shown: string[] = [];

const secret = () => {
  const s = newSecret();
  seeds.push(s);
  return s;
};
const env = () => fx.env("admin");

/** totpctl in a real pseudo-terminal; everything it showed is kept for the seed canary. */
function inTerminal(args: string[]) {
  const run = runInTerminal([process.execPath, TOTPCTL, ...args], { env: env(), cwd: workDir });
  run.exited.finally(() => shown.push(run.output));
  return run;
}

async function add(label: string, seed: string, flags: string[] = []) {
  const run = await runTotpctl(["add", label, "-", ...flags], { env: env(), cwd: workDir, input: seed });
  expect(run).toMatchObject({ code: 0, stderr: "" });
}

beforeAll(async () => {
  fx = await startCliFixture();
  workDir = await mkdtemp(join(tmpdir(), "totpctl-tty-"));
});

afterAll(async () => {
  try {
    const everything = shown.join("\n") + fx.core.process.stdout + fx.core.process.stderr;
    for (const seed of seeds) expect(everything).not.toContain(seed);
  } finally {
    await fx?.close();
    await rm(workDir, { recursive: true, force: true });
  }
});

/** One redraw of the countdown line: the code, the bar, the seconds left and the label. */
const FRAME = /^(\d{6}) {2}([█░]{20}) {2} *(\d+)s {2}(\S+)$/;

describe("totpctl code in a terminal", () => {
  it("shows a live countdown that rolls over to the next code, until Ctrl-C", async () => {
    const s = secret();
    const period = 2;
    await add("ticker", s, ["--period", String(period)]);

    const started = Date.now();
    const run = inTerminal(["code", "ticker"]);
    // Three different codes: the first answer's code, its next code, then one from a second answer.
    const codesShown = (output: string) => new Set(output.match(/\d{6}(?= {2}[█░])/g)).size;
    await run.waitUntil((output) => codesShown(output) >= 3, "three codes");
    run.type("\x03");
    expect(await run.exited).toBe(ExitCode.ok);
    const ended = Date.now();

    const output = run.output;
    // The cursor is hidden while the line redraws and given back at the end, with the prompt on a fresh line.
    const showCursorOnNewLine = "\r\n\x1b[?25h";
    expect(output.startsWith("\x1b[?25l")).toBe(true);
    expect(output.endsWith(showCursorOnNewLine)).toBe(true);
    // The terminal echoes the Ctrl-C as ^C after the last frame.
    const frames = output
      .slice(0, -showCursorOnNewLine.length)
      .split("\r\x1b[2K")
      .slice(1)
      .map((chunk) => chunk.replace(/\^C$/, ""));
    expect(frames.length).toBeGreaterThan(3);
    const codes: string[] = [];
    for (const frame of frames) {
      const match = FRAME.exec(frame);
      expect(match, `a countdown frame: ${JSON.stringify(frame)}`).not.toBeNull();
      const [, code = "", bar = "", seconds = "", label] = match ?? [];
      expect(label).toBe("ticker");
      expect(Number(seconds)).toBeGreaterThanOrEqual(1);
      expect(Number(seconds)).toBeLessThanOrEqual(period);
      // The bar is full at the period's start and empties with the seconds left.
      expect(bar.replaceAll("░", "")).toHaveLength(Math.round((20 * Number(seconds)) / period));
      if (codes.at(-1) !== code) codes.push(code);
    }
    // The codes shown are those of consecutive time steps, as an independent implementation computes them.
    const expected = codesBetween(s, started, ended, { period });
    const first = expected.indexOf(codes[0] ?? "");
    expect(first, `codes shown ${codes} among ${expected}`).toBeGreaterThanOrEqual(0);
    expect(codes).toEqual(expected.slice(first, first + codes.length));
    expect(codes.length).toBeGreaterThanOrEqual(3);
  });

  it("prints one plain line when its output is piped, even from a terminal", async () => {
    const s = secret();
    await add("piped", s);
    const file = join(workDir, "code.txt");
    const before = Date.now();
    const run = runInTerminal(["sh", "-c", `"$0" "$1" code piped > "$2"`, process.execPath, TOTPCTL, file], {
      env: env(),
      cwd: workDir,
    });
    expect(await run.exited).toBe(0);
    const written = await readFile(file, "utf8");
    expect(written).toMatch(/^\d{6}\n$/);
    expect(controlCharactersIn(written)).toEqual([]);
    expect(codesBetween(s, before, Date.now())).toContain(written.trim());
  });
});

describe("totpctl add - in a terminal", () => {
  it("reads the seed without echoing it", async () => {
    const s = secret();
    const run = inTerminal(["add", "typed", "-"]);
    await run.waitFor(/typing is hidden; Enter to finish\): $/);
    run.type(`${s.slice(0, 10)}`);
    run.type(`${s.slice(10)}\r`);
    expect(await run.exited).toBe(ExitCode.ok);
    expect(run.output).toMatch(/\r\nstored typed: SHA1, 6 digits, 30s\r\n$/);
    expect(run.output).not.toContain(s.slice(0, 10));

    const before = Date.now();
    const code = await runTotpctl(["code", "typed"], { env: env(), cwd: workDir });
    expect(codesBetween(s, before, Date.now())).toContain(code.stdout.trim());
  });

  it("warns a person who typed the seed as an argument that it is in their shell history", async () => {
    const run = inTerminal(["add", "argument", secret()]);
    expect(await run.exited).toBe(ExitCode.ok);
    expect(run.output).toContain(
      "totpctl: warning: the seed was given on the command line and may be in your shell history; pass - to type " +
        "or pipe it instead\r\n",
    );
  });

  it("cancels on Ctrl-C and stores nothing", async () => {
    const run = inTerminal(["add", "cancelled", "-"]);
    await run.waitFor(/typing is hidden/);
    run.type("JBSW\x03");
    expect(await run.exited).toBe(ExitCode.usage);
    expect(run.output).toMatch(/totpctl: cancelled\r\n$/);
    const code = await runTotpctl(["code", "cancelled"], { env: env(), cwd: workDir });
    expect(code.code).toBe(ExitCode.notFound);
  });
});

describe("totpctl rm in a terminal", () => {
  it("asks before deleting: no keeps the label, yes deletes it", async () => {
    await add("asked", secret());
    const no = inTerminal(["rm", "asked"]);
    await no.waitFor(/Delete asked and its seed from totp-core\? \[y\/N\] /);
    no.type("\r");
    expect(await no.exited).toBe(ExitCode.usage);
    expect(no.output).toMatch(/totpctl: asked was not deleted\r\n$/);
    expect((await runTotpctl(["code", "asked"], { env: env(), cwd: workDir })).code).toBe(ExitCode.ok);

    const yes = inTerminal(["rm", "asked"]);
    await yes.waitFor(/\[y\/N\] /);
    yes.type("y\r");
    expect(await yes.exited).toBe(ExitCode.ok);
    expect(yes.output).toMatch(/deleted asked\r\n$/);
    expect((await runTotpctl(["code", "asked"], { env: env(), cwd: workDir })).code).toBe(ExitCode.notFound);
  });
});
