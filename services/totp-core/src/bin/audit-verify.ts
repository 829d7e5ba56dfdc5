#!/usr/bin/env node
// Verifies an audit log's hash chain: `totp-audit-verify [file]`, or the log on stdin (a pod's stdout capture works:
// service-log lines are skipped). Exit 0 when the chain holds, 1 when it is broken, 2 when the input cannot be read.
import { createReadStream } from "node:fs";
import { AuditChainVerifier } from "../ops/verifyAuditChain.js";

const path = process.argv[2];
const input = path === undefined ? process.stdin : createReadStream(path);
const verifier = new AuditChainVerifier();
let rest = "";

try {
  // Split on "\n" only (not readline's "\r" too): the chain hashes each line's exact bytes.
  for await (const chunk of input.setEncoding("utf8")) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) verifier.push(line);
  }
} catch (err) {
  console.error(`cannot read ${path ?? "stdin"}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
if (rest !== "") verifier.push(rest);

const result = verifier.result();
if (result.ok) {
  console.log(`ok: ${result.lines} lines`);
} else {
  console.log(`broken at line ${result.line}: ${result.reason}`);
  process.exitCode = 1;
}
