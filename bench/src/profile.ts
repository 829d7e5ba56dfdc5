import { readFile } from "node:fs/promises";

/** The parts of V8's .cpuprofile format used here. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  samples: number[];
  /** Microseconds since the previous sample, one per sample. */
  timeDeltas: number[];
  /** Microseconds, on the clock of the samples. */
  startTime: number;
  endTime: number;
}

export interface ProfileFrame {
  /** `function file:line`, the file relative to the repository or node_modules. */
  frame: string;
  /** Share of the sampled time (idle excluded) spent in the frame itself. */
  selfPercent: number;
}

export interface ProfileSummary {
  /** Milliseconds sampled while not idle. */
  busyMs: number;
  top: ProfileFrame[];
  /** Self time by origin, % of busy time: totp-core, grpc-js, other dependencies, Node internals, GC, native. */
  byOrigin: Record<string, number>;
  /** Calls the server answered while the profile ran. */
  calls: number;
  /**
   * Self time by origin in µs per answered call: what lets two servers' profiles be compared, since the same share
   * of a dearer call is more time.
   */
  usPerCallByOrigin: Record<string, number>;
}

/** Where a frame's code comes from, for the per-origin totals. */
function origin(url: string, functionName: string): string {
  if (url === "") return functionName === "(garbage collector)" ? "gc" : "native/runtime";
  if (url.includes("/node_modules/@grpc/grpc-js/")) return "grpc-js";
  if (url.includes("/node_modules/")) return "other dependencies";
  if (url.startsWith("node:")) return "node internals";
  return "totp-custody";
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) return url.slice(modules + "/node_modules/".length);
  const repo = /\/(services|packages)\/.*$/.exec(url);
  return repo ? repo[0].slice(1) : url;
}

/** To one decimal: the profiles' figures are rough beyond it. */
const tenths = (n: number) => Math.round(n * 10) / 10;

/**
 * Self time per function of a CPU profile, heaviest first, with totals per origin, in % and in µs per one of the
 * `calls` answered. Only the last `lastSeconds` before the profile ends count: the measured load, not the start-up
 * and warm-up before it.
 */
export async function summarizeProfile(
  path: string,
  lastSeconds: number,
  calls: number,
  topN = 15,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, "utf8")) as CpuProfile;
  const windowStart = profile.endTime - lastSeconds * 1e6;
  let at = profile.startTime;
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const selfUs = new Map<string, number>();
  const originUs = new Map<string, number>();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (!frame || frame.functionName === "(idle)" || at < windowStart) return;
    busyUs += us;
    // lineNumber is 0-based in the profile format.
    const name = frame.url
      ? `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`
      : frame.functionName;
    selfUs.set(name, (selfUs.get(name) ?? 0) + us);
    const from = origin(frame.url, frame.functionName);
    originUs.set(from, (originUs.get(from) ?? 0) + us);
  });
  const percent = (us: number) => tenths((us / busyUs) * 100);
  const byOrigin = [...originUs].sort((a, b) => b[1] - a[1]);
  return {
    busyMs: Math.round(busyUs / 1000),
    top: [...selfUs]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([frame, us]) => ({ frame, selfPercent: percent(us) })),
    byOrigin: Object.fromEntries(byOrigin.map(([name, us]) => [name, percent(us)])),
    calls,
    usPerCallByOrigin: Object.fromEntries(byOrigin.map(([name, us]) => [name, tenths(us / calls)])),
  };
}

/** A server's profile under load, with where it was written. */
export type ProfiledServer = ProfileSummary & { file: string };

/**
 * totp-core's heaviest functions, then CPU per call by origin for totp-core and the echo side by side, and what
 * totp-core adds to each origin: the part of its profile the echo does not have.
 */
export function formatProfiles({ core, echo }: { core: ProfiledServer; echo: ProfiledServer }): string {
  const lines = [`heaviest functions of totp-core (self time, ${core.file}):`];
  for (const { frame, selfPercent } of core.top) lines.push(`${selfPercent.toFixed(1).padStart(6)}%  ${frame}`);
  const coreUs = core.usPerCallByOrigin;
  const echoUs = echo.usPerCallByOrigin;
  const origins = [...new Set([...Object.keys(coreUs), ...Object.keys(echoUs)])];
  const total = (us: Record<string, number>) => Object.values(us).reduce((sum, n) => sum + n, 0);
  const us = (n: number, width: number) => tenths(n).toFixed(1).padStart(width);
  const row = (name: string, a: number, b: number) => `${name.padEnd(24)}${us(a, 10)}${us(b, 10)}${us(a - b, 12)}`;
  lines.push(
    "",
    `CPU µs per call by origin (profiled runs: ${core.calls} and ${echo.calls} calls; the profiler adds its own cost)`,
    `${"origin".padEnd(24)}${"totp-core".padStart(10)}${"echo".padStart(10)}${"difference".padStart(12)}`,
    ...origins.map((name) => row(name, coreUs[name] ?? 0, echoUs[name] ?? 0)),
    row("total", total(coreUs), total(echoUs)),
  );
  return lines.join("\n");
}
