import { TLSSocket } from "node:tls";
import { credentials, Server, ServerCredentials } from "@grpc/grpc-js";
import {
  GenerateCodeResponse,
  TotpServiceClient,
  type TotpServiceServer,
  TotpServiceService,
} from "@totp-custody/contract";
import { makeTestPki, spiffeId, type TestPki } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { clientCertificate } from "../src/identity.js";

/** A grpc-js server over mTLS whose GenerateCode answers the caller's identity as `account`. */
async function startIdentityEcho(pki: TestPki): Promise<{ server: Server; address: string }> {
  const server = new Server();
  const refuse = (_call: unknown, callback: (err: Error) => void) => callback(new Error("not here"));
  const service: TotpServiceServer = {
    generateCode: (call, callback) =>
      callback(null, GenerateCodeResponse.fromPartial({ account: clientCertificate(call)?.id ?? "" })),
    registerSeed: refuse,
    listLabels: refuse,
    deleteSeed: refuse,
    importSeeds: refuse,
  };
  server.addService(TotpServiceService, service);
  const creds = ServerCredentials.createSsl(
    Buffer.from(pki.ca.certPem),
    [{ cert_chain: Buffer.from(pki.server.certPem), private_key: Buffer.from(pki.server.keyPem) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", creds, (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { server, address: `127.0.0.1:${port}` };
}

describe("clientIdentity", () => {
  let pki: TestPki;
  let server: Server;
  let address: string;

  beforeAll(async () => {
    pki = await makeTestPki(["alice", "bob"]);
    ({ server, address } = await startIdentityEcho(pki));
  });
  afterAll(async () => {
    server.forceShutdown();
    await pki.cleanup();
  });

  const clientAs = (name: "alice" | "bob") => {
    const cert = pki.clients[name];
    if (!cert) throw new Error(`no certificate for ${name}`);
    return new TotpServiceClient(
      address,
      credentials.createSsl(Buffer.from(pki.ca.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.certPem)),
      // Each client its own connection, as two services calling totp-core would have.
      { "grpc.use_local_subchannel_pool": 1 },
    );
  };
  const identityOf = (client: TotpServiceClient) =>
    new Promise<string>((resolve, reject) =>
      client.generateCode({ label: "x", onBehalfOf: "" }, (err, answer) =>
        err ? reject(err) : resolve(answer.account),
      ),
    );

  it("answers each connection's certificate identity, reading the certificate once per connection", async () => {
    const reads = vi.spyOn(TLSSocket.prototype, "getPeerCertificate");
    const alice = clientAs("alice");
    const bob = clientAs("bob");
    try {
      for (let i = 0; i < 5; i++) {
        expect(await identityOf(alice)).toBe(spiffeId("alice"));
        expect(await identityOf(bob)).toBe(spiffeId("bob"));
      }
      // Reading the certificate on every call was the heaviest part of a warm call (README, Benchmarks). The
      // clients check the server's certificate in this process too: only the server's sockets are counted.
      const serverReads = reads.mock.contexts.filter((socket) => (socket as { server?: unknown }).server);
      expect(serverReads).toHaveLength(2);
    } finally {
      reads.mockRestore();
      alice.close();
      bob.close();
    }
  });

  it("does not carry an identity over to a new connection", async () => {
    const first = clientAs("alice");
    expect(await identityOf(first)).toBe(spiffeId("alice"));
    first.close();
    const next = clientAs("bob");
    try {
      expect(await identityOf(next)).toBe(spiffeId("bob"));
    } finally {
      next.close();
    }
  });
});
