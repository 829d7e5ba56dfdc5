#!/usr/bin/env node
// Verifies an audit log's hash chain: `totp-audit-verify [--key-file FILE] [--head HASH] [file...]`, files in the
// order written (oldest rotated file first), or the log on stdin (a pod's stdout capture works: service-log lines
// are skipped). Exit 0 when the chain holds, 1 when it is broken, 2 when the verifier could not run (bad
// arguments, a file or key that cannot be read): a 2 says nothing about the log.
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { readAuditKey } from "../ops/readAuditKey.js";
import { AuditChainVerifier } from "../ops/verifyAuditChain.js";

const USAGE = "usage: totp-audit-verify [--key-file FILE] [--head HASH] [FILE...]";

function cannotRun(message: string): never {
  console.error(`totp-audit-verify: cannot run: ${message}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: { "key-file": { type: "string" }, head: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
}
try {
  parsed = parse();
} catch (err) {
  cannotRun(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (values.head !== undefined && !/^[0-9a-f]{64}$/.test(values.head)) cannotRun("--head takes a 64-digit hex hash");
let key: Buffer | undefined;
try {
  key = values["key-file"] === undefined ? undefined : readAuditKey(values["key-file"]);
} catch (err) {
  cannotRun(`--key-file ${values["key-file"]}: ${err instanceof Error ? err.message : String(err)}`);
}

const verifier = new AuditChainVerifier({ key, head: values.head });
const inputs: Array<{ name: string; open: () => Readable }> =
  positionals.length === 0
    ? [{ name: "stdin", open: () => process.stdin }]
    : positionals.map((file) => ({ name: file, open: () => createReadStream(file) }));

for (const { name, open } of inputs) {
  let rest = "";
  try {
    // Split on "\n" only (not readline's "\r" too): the chain hashes each line's exact bytes.
    for await (const chunk of open().setEncoding("utf8")) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) verifier.push(line);
    }
  } catch (err) {
    cannotRun(`cannot read ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (rest !== "") verifier.push(rest);
}

const result = verifier.result();
if (result.ok) {
  console.log(`ok: ${result.lines} lines`);
  if (!key) console.error("note: checked without --key-file: a plain SHA-256 chain shows accidents, not forgeries");
} else {
  console.log(`broken at line ${result.line}: ${result.reason}`);
  process.exitCode = 1;
}
