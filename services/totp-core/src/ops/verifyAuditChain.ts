import { auditLineHash, GENESIS, HASH_FIELD } from "./AuditLog.js";

export type AuditChainResult = { ok: true; lines: number } | { ok: false; line: number; reason: string };

export interface VerifyOptions {
  /** The audit key (TOTP_AUDIT_KEY_FILE): without it only plain SHA-256 chains verify. */
  key?: Buffer;
  /** A head hash anchored outside the host: the input must hold the line that has it. */
  head?: string;
}

interface ChainLine {
  /** 1-based position in the input, counting every line (audit or not) so an operator can find it. */
  no: number;
  seq: number;
  hash: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

const broken = (line: number, reason: string): AuditChainResult => ({ ok: false, line, reason });

/**
 * Checks hash chains written by AuditLog, fed one line at a time so a large file need not be held in memory.
 * Lines that are not JSON objects with "log":"audit" are skipped (pino's service log shares stdout). Every audit
 * line must end with its own hash, which is recomputed (HMAC with the key, SHA-256 without): an edited line is
 * named itself, the last one included. Every line but a run's first must follow the previous audit line: seq one
 * higher, prev its hash. A run's first line ("start":true, seq 1) links to the line before it, unless its prev is
 * GENESIS (a new file or stdout): a deleted run or a cut tail before a restart shows. The first broken line is
 * named.
 */
export class AuditChainVerifier {
  private no = 0;
  private count = 0;
  private last: ChainLine | undefined;
  private headSeen = false;
  private verdict: AuditChainResult | undefined;

  constructor(private readonly options: VerifyOptions = {}) {}

  push(line: string): void {
    this.no++;
    if (this.verdict === undefined && line.startsWith("{")) this.verdict = this.check(line);
  }

  /** The verdict once every line is pushed. */
  result(): AuditChainResult {
    if (this.verdict) return this.verdict;
    const { head } = this.options;
    if (head !== undefined && !this.headSeen) {
      return broken(this.no, `no line has the anchored head ${head}: lines up to it were cut or rewritten`);
    }
    return { ok: true, lines: this.count };
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
    const own = HASH_FIELD.exec(line);
    if (own === null) return broken(this.no, "the line does not end with its hash");
    const hash = own[1] as string;
    if (auditLineHash(line.slice(0, own.index), this.options.key) !== hash) {
      return broken(
        this.no,
        this.options.key
          ? "the line was altered: its hash is not the HMAC of its content under the key"
          : "the line was altered (or the log is keyed: give --key-file): its hash is not the SHA-256 of its content",
      );
    }
    const { prev, seq, start } = record as { prev?: unknown; seq?: unknown; start?: unknown };
    if (typeof prev !== "string" || !HEX64.test(prev)) return broken(this.no, "prev is not a SHA-256 hex digest");
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
      return broken(this.no, "seq is not a positive integer");
    }
    const { last } = this;
    if (start === true) {
      if (seq !== 1) return broken(this.no, "a run's first line must have seq 1");
      if (prev !== GENESIS && last === undefined) {
        return broken(this.no, "this run follows a line that is not in the input: lines before it are missing");
      }
      if (prev !== GENESIS && prev !== last?.hash) {
        return broken(this.no, `this run does not follow line ${last?.no}: lines between them are missing`);
      }
    } else if (last === undefined) {
      return broken(this.no, "the first audit line does not start a chain: lines before it are missing");
    } else if (seq !== last.seq + 1) {
      return broken(this.no, `seq ${seq} follows seq ${last.seq}: a line is missing or out of order`);
    } else if (prev !== last.hash) {
      return broken(this.no, `prev is not the hash of line ${last.no}: a line between them is missing or altered`);
    }
    if (hash === this.options.head) this.headSeen = true;
    this.last = { no: this.no, seq, hash };
    this.count++;
    return undefined;
  }
}

/** Verifies a whole capture: a string (split on "\n") or lines without their newlines. */
export function verifyAuditChain(lines: Iterable<string> | string, options: VerifyOptions = {}): AuditChainResult {
  const verifier = new AuditChainVerifier(options);
  for (const line of typeof lines === "string" ? lines.split("\n") : lines) verifier.push(line);
  return verifier.result();
}
