import { setTimeout as sleep } from "node:timers/promises";
import type { GenerateCodeResponse } from "@totp-custody/client";
import { codeAt, formatCountdown, formatDuration } from "./countdown.js";
import { rateLimitWait } from "./rateLimitWait.js";

const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";
/** Back to the line's start and erase it, so each frame replaces the last. */
const REDRAW = "\r\x1b[2K";
/** A quarter second keeps the seconds display within a quarter second of the truth without busy redraws. */
const TICK_MS = 250;

/**
 * Shows a label's code with a countdown bar on one terminal line until `signal` aborts (Ctrl-C), rolling over to
 * the next code when one expires. The times come from the core's answer and are read against the core's clock,
 * estimated at each answer, so a skewed local clock still shows the right seconds.
 */
export async function watchCode(
  fetchCode: (signal: AbortSignal) => Promise<GenerateCodeResponse>,
  label: string,
  out: NodeJS.WriteStream,
  signal: AbortSignal,
): Promise<void> {
  out.write(HIDE_CURSOR);
  try {
    let answer: GenerateCodeResponse | undefined;
    let offsetMs = 0;
    let askedAt = Number.NEGATIVE_INFINITY;
    let shown = "";
    while (!signal.aborted) {
      const view = answer && codeAt(answer, Date.now() + offsetMs);
      if (!view) {
        // An answer already over when it arrives (a slow call at a window's end) must not become a burst of calls.
        if (Date.now() - askedAt < TICK_MS) await sleep(TICK_MS, undefined, { signal }).catch(() => {});
        if (signal.aborted) break;
        askedAt = Date.now();
        try {
          answer = await fetchCode(signal);
        } catch (err) {
          // Ctrl-C during a call cancels it: that is the end of the display, not a failure.
          if (signal.aborted) break;
          // A short period asks for codes more often than the per-label limit allows (each answer covers two
          // periods, one in the TOTP-engine mode): wait as told and go on, as a person watching would.
          const waitMs = rateLimitWait(err);
          if (waitMs === undefined) throw err;
          shown = `rate limited by totp-core; asking again in ${formatDuration(Math.ceil(waitMs / 1000))}`;
          out.write(REDRAW + shown);
          answer = undefined;
          await sleep(waitMs, undefined, { signal }).catch(() => {});
          continue;
        }
        const serverMs = answer.serverTime?.getTime();
        // The server's clock at the midpoint of the call: half the round trip is the best guess without more calls.
        offsetMs = serverMs === undefined ? 0 : serverMs - (askedAt + Date.now()) / 2;
        continue;
      }
      const frame = formatCountdown(view, label, out.columns);
      if (frame !== shown) {
        out.write(REDRAW + frame);
        shown = frame;
      }
      await sleep(TICK_MS, undefined, { signal }).catch(() => {});
    }
  } finally {
    // The terminal must get its cursor back whatever ended the display, and the shell prompt a line of its own.
    out.write(`\n${SHOW_CURSOR}`);
  }
}
