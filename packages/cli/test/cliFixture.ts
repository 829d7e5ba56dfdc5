import { makeTestPki, type RunningCore, startTotpCore, type TestPki } from "@totp-custody/testkit";

export const CLI_TEST_POLICY = `
clients:
  spiffe://totp.internal/admin: { principal: service:admin, admin: true }
  spiffe://totp.internal/telegram-bot: { actsFor: telegram }
selfService: true
`;

export interface CliFixture {
  pki: TestPki;
  core: RunningCore;
  /** The TOTP_* environment of a client of the test PKI (or of `files`, to present other certificates). */
  env(name: string, files?: { cert?: string; key?: string; ca?: string }): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/**
 * A real totp-core over mTLS, with certificates for an admin, a bot and a stranger; on the file store unless `env`
 * names another.
 */
export async function startCliFixture(env: NodeJS.ProcessEnv = {}): Promise<CliFixture> {
  const pki = await makeTestPki(["admin", "telegram-bot", "stranger"]);
  const core = await startTotpCore({
    pki,
    policy: CLI_TEST_POLICY,
    // The terminal tests read codes of 1-2 s periods for seconds; the limits have tests of their own.
    env: { TOTP_RATE_REQUESTS_PER_PRINCIPAL: "100000", TOTP_RATE_CODES_PER_LABEL: "100000", ...env },
  });
  return {
    pki,
    core,
    env(name, files = {}) {
      const client = pki.clients[name];
      if (!client) throw new Error(`no test certificate named ${name}`);
      return {
        TOTP_ADDR: core.address,
        TOTP_TLS_CA: files.ca ?? pki.caPath,
        TOTP_TLS_CERT: files.cert ?? client.certPath,
        TOTP_TLS_KEY: files.key ?? client.keyPath,
      };
    },
    async close() {
      await core.stop();
      await pki.cleanup();
    },
  };
}
