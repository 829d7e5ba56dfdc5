import type { GenerateCodeResponse } from "@totp-custody/client";

/** The code to show at one moment and how long it stays valid. */
export interface CodeView {
  code: string;
  /** Whole seconds until the code expires, rounded up: 1 in its last second, never 0. */
  secondsLeft: number;
  period: number;
}

/**
 * The code valid at `nowMs` (on the server's clock) from one GenerateCode answer: its current code inside its
 * window, then its next code for one more period, so the display rolls over without waiting for a call.
 * Undefined when the answer has nothing for that moment (the next code is unknown, as in the Vault TOTP engine
 * mode, or both windows are over): time to ask the core again.
 */
export function codeAt(answer: GenerateCodeResponse, nowMs: number): CodeView | undefined {
  const from = answer.validFrom?.getTime();
  const until = answer.validUntil?.getTime();
  if (from === undefined || until === undefined) return undefined;
  // An answer cannot come from the future: a moment before its window is an error of the caller's clock estimate.
  const at = Math.max(nowMs, from);
  const periodMs = answer.period * 1000;
  const view = (code: string, endMs: number): CodeView => ({
    code,
    secondsLeft: Math.ceil((endMs - at) / 1000),
    period: answer.period,
  });
  if (at < until) return view(answer.code, until);
  if (answer.nextCode !== "" && at < until + periodMs) return view(answer.nextCode, until + periodMs);
  return undefined;
}

/** 17s, 4m05s, 3h12m: a countdown short enough for one line whatever the period (1 s to a day). */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${pad(Math.floor((seconds % 3600) / 60))}m`;
}

export const BAR_WIDTH = 20;

/**
 * `482913  ██████████░░░░░░░░░░     17s  github`: the bar shrinks as the code's time runs out. Cut to `columns - 1`
 * characters when the terminal's width is known (a pseudo-terminal without a size reports 0): a line that wraps
 * could no longer be redrawn in place.
 */
export function formatCountdown(view: CodeView, label: string, columns?: number): string {
  const filled = Math.min(BAR_WIDTH, Math.max(0, Math.round((BAR_WIDTH * view.secondsLeft) / view.period)));
  const bar = "█".repeat(filled) + "░".repeat(BAR_WIDTH - filled);
  const line = `${view.code}  ${bar}  ${formatDuration(view.secondsLeft).padStart(6)}  ${label}`;
  return columns ? line.slice(0, Math.max(view.code.length, columns - 1)) : line;
}
