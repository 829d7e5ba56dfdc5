import { parseArgs } from "node:util";

export interface BenchOptions {
  labels: number;
  /** Labels of the principal whose ListLabels pages are measured. */
  listed: number;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  connections: number;
  /** Minutes of steady load watching totp-core's memory; no soak when undefined. */
  soakMinutes: number | undefined;
  /** Also profile totp-core under load with --cpu-prof. */
  profile: boolean;
  /** Built checkouts of totp-custody whose totp-core is measured in the same rounds, as the "before" of a change. */
  compare: string[];
}

export const USAGE = `usage: npm run bench -- [options]
  --labels N         labels seeded and called in turn (default 100)
  --listed N         labels of the principal whose ListLabels pages of 100 are measured (default 5000)
  --rounds N         measured rounds per target (default 3; 1 with --quick)
  --seconds S        length of each round (default 10; 3 with --quick)
  --warmup S         warm-up per target (default 5; 2 with --quick)
  --concurrency N    calls in flight, for every target (default 50)
  --connections N    HTTP/2 connections of the gRPC load (default 4)
  --quick            a short run to check the plumbing; its numbers are rough
  --soak [MINUTES]   also hold half the peak rate on totp-core, audit in a file then on stdout, for MINUTES each
                     (default 30), sampling its RSS and heap every 10 s for their least-squares trend
  --profile          also record a CPU profile of totp-core under load and list its heaviest functions
  --compare DIR      also measure the totp-core of the checkout DIR (npm ci and npm run build done there), in the
                     same rounds as this one, and give this one's throughput and CPU per call against it; repeat
                     it to compare several (the commits before and after a change, say)`;

/** Long enough to tell a leak from pools settling: 10 minutes came out within and outside the RSS target. */
const DEFAULT_SOAK_MINUTES = 30;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`--${name}: expected a positive number, got ${text}`);
  return value;
}

/** The command line; throws with a message naming the bad option. */
export function parseOptions(argv: readonly string[]): BenchOptions | "help" {
  const args = [...argv];
  // --soak takes an optional number, which parseArgs cannot express: supply the default when none follows.
  const soakAt = args.indexOf("--soak");
  if (soakAt >= 0 && !/^\d+(\.\d+)?$/.test(args[soakAt + 1] ?? "")) {
    args.splice(soakAt + 1, 0, String(DEFAULT_SOAK_MINUTES));
  }
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      labels: { type: "string" },
      listed: { type: "string" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      concurrency: { type: "string" },
      connections: { type: "string" },
      quick: { type: "boolean", default: false },
      soak: { type: "string" },
      profile: { type: "boolean", default: false },
      compare: { type: "string", multiple: true },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const quick = values.quick;
  const integer = (name: string, text: string | undefined, fallback: number) => {
    const value = positive(name, text, fallback);
    if (!Number.isInteger(value)) throw new Error(`--${name}: expected a whole number, got ${text}`);
    return value;
  };
  return {
    labels: integer("labels", values.labels, 100),
    listed: integer("listed", values.listed, 5000),
    rounds: integer("rounds", values.rounds, quick ? 1 : 3),
    seconds: positive("seconds", values.seconds, quick ? 3 : 10),
    warmupSeconds: positive("warmup", values.warmup, quick ? 2 : 5),
    concurrency: integer("concurrency", values.concurrency, 50),
    connections: integer("connections", values.connections, 4),
    soakMinutes: values.soak === undefined ? undefined : positive("soak", values.soak, DEFAULT_SOAK_MINUTES),
    profile: values.profile,
    compare: values.compare ?? [],
  };
}
