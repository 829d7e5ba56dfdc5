import { hashAuditLine } from "./AuditLog.js";

export type AuditChainResult = { ok: true; lines: number } | { ok: false; line: number; reason: string };

interface ChainLine {
  /** 1-based position in the input, counting every line (audit or not) so an operator can find it. */
  no: number;
  seq: number;
  hash: string;
}

/** A prev mismatch at `at`: either `at` or the line before it was altered; the next audit line tells which. */
interface Suspect {
  at: ChainLine;
  before: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

const broken = (line: number, reason: string): AuditChainResult => ({ ok: false, line, reason });

/** No later line of the same chain tells which of the two changed; the earlier one is named. */
const unresolved = ({ at, before }: Suspect): AuditChainResult =>
  broken(before, `line ${before} or line ${at.no} was altered: their hashes do not chain`);

/**
 * Checks hash chains written by AuditLog, fed one line at a time so a large file need not be held in memory.
 * Lines that are not JSON objects with "log":"audit" are skipped (pino's service log shares stdout). A line with
 * "start":true begins a new chain (a process restart); every other audit line must follow the previous one: seq one
 * higher and prev equal to the SHA-256 of that line. The first broken line is named, as precisely as the chain
 * allows: an edited line is blamed itself, not the intact line after it whose prev no longer matches.
 */
export class AuditChainVerifier {
  private no = 0;
  private count = 0;
  private last: ChainLine | undefined;
  private suspect: Suspect | undefined;
  private verdict: AuditChainResult | undefined;

  push(line: string): void {
    this.no++;
    if (this.verdict === undefined && line.startsWith("{")) this.verdict = this.check(line);
  }

  /** The verdict once every line is pushed. */
  result(): AuditChainResult {
    return this.verdict ?? (this.suspect ? unresolved(this.suspect) : { ok: true, lines: this.count });
  }

  /** A failure, or undefined while the chain holds (or the line is not an audit line). */
  private check(line: string): AuditChainResult | undefined {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (typeof record !== "object" || record === null || (record as { log?: unknown }).log !== "audit") return;
    const { prev, seq, start } = record as { prev?: unknown; seq?: unknown; start?: unknown };
    if (typeof prev !== "string" || !HEX64.test(prev)) return broken(this.no, "prev is not a SHA-256 hex digest");
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
      return broken(this.no, "seq is not a positive integer");
    }
    const current = { no: this.no, seq, hash: hashAuditLine(line) };

    if (this.suspect !== undefined) {
      const { at, before } = this.suspect;
      if (start === true) return unresolved(this.suspect);
      // The suspect line is intact when this line's prev is its hash; then the line before it was altered.
      return prev === at.hash
        ? broken(before, `line ${before} was altered: its hash is not the prev of line ${at.no}`)
        : broken(at.no, `prev is not the hash of line ${before}`);
    }
    if (start === true) {
      if (seq !== 1) return broken(this.no, "a chain start must have seq 1");
    } else if (this.last === undefined) {
      return broken(this.no, "the first audit line does not start a chain: lines before it are missing");
    } else if (seq !== this.last.seq + 1) {
      return broken(this.no, `seq ${seq} follows seq ${this.last.seq}: a line is missing or out of order`);
    } else if (prev !== this.last.hash) {
      this.suspect = { at: current, before: this.last.no };
      return undefined;
    }
    this.last = current;
    this.count++;
    return undefined;
  }
}

/** Verifies a whole capture: a string (split on "\n") or lines without their newlines. */
export function verifyAuditChain(lines: Iterable<string> | string): AuditChainResult {
  const verifier = new AuditChainVerifier();
  for (const line of typeof lines === "string" ? lines.split("\n") : lines) verifier.push(line);
  return verifier.result();
}
