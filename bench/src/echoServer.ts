// The limit of our stack: a bare grpc-js server with totp-core's TLS settings (mTLS, client certificate required)
// that answers GenerateCode with a fixed response of the size totp-core sends. Same message types, same
// (de)serialisers, same transport; no identity, policy, store, limits, audit or metrics.
//
// Environment: TOTP_LISTEN (host:port), TOTP_TLS_CERT, TOTP_TLS_KEY, TOTP_TLS_CA: the names totp-core reads, so
// the benchmark starts both from the same environment. Prints "echo ready" once it serves.

import { readFileSync } from "node:fs";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { type GenerateCodeResponse, type TotpServiceServer, TotpServiceService } from "@totp-custody/contract";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const PERIOD_MS = 30_000;
const started = Date.now();
const validFrom = started - (started % PERIOD_MS);
/** Field for field as long as totp-core's answer for a benchmark label (see run.ts: issuer and account). */
const RESPONSE: GenerateCodeResponse = {
  code: "123456",
  digits: 6,
  period: PERIOD_MS / 1000,
  validFrom: new Date(validFrom),
  validUntil: new Date(validFrom + PERIOD_MS),
  serverTime: new Date(started),
  nextCode: "654321",
  issuer: "Bench",
  account: "bench-000@example.com",
};

const unimplemented = (_call: unknown, callback: (err: { code: number; details: string }) => void) =>
  callback({ code: status.UNIMPLEMENTED, details: "the echo server answers GenerateCode only" });

const service: TotpServiceServer = {
  generateCode: (_call, callback) => callback(null, RESPONSE),
  registerSeed: unimplemented,
  listLabels: unimplemented,
  deleteSeed: unimplemented,
  importSeeds: unimplemented,
};

const server = new Server();
server.addService(TotpServiceService, service);
const credentials = ServerCredentials.createSsl(
  readFileSync(required("TOTP_TLS_CA")),
  [{ cert_chain: readFileSync(required("TOTP_TLS_CERT")), private_key: readFileSync(required("TOTP_TLS_KEY")) }],
  true,
);
server.bindAsync(required("TOTP_LISTEN"), credentials, (err, port) => {
  if (err) throw err;
  process.stdout.write(`echo ready on port ${port}\n`);
});
process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
