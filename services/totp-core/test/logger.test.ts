import { Writable } from "node:stream";
import { newSecret } from "@totp-custody/testkit";
import { Secret } from "otpauth";
import type { LoggerOptions } from "pino";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { INTERNAL_MESSAGE, TotpError } from "../src/errors.js";
import { createLogger } from "../src/logger.js";
import { migrationUri } from "./encodeMigrationPayload.js";
import { secretTraces, tracesIn } from "./secretTraces.js";

// createLogger writes to stdout; the pino it builds gets a destination this test reads instead, with its options
// (redaction, serializers) untouched.
const captured = vi.hoisted(() => ({ lines: [] as string[] }));
vi.mock("pino", async (importOriginal) => {
  const actual = await importOriginal<typeof import("pino")>();
  const destination = new Writable({
    write(chunk, _encoding, done) {
      captured.lines.push(String(chunk));
      done();
    },
  });
  return { ...actual, pino: (options: LoggerOptions) => actual.pino(options, destination) };
});

const REDACTED = "[redacted]";

/** A seed, generated here, and the request fields that carry it. */
function requestWithSeed() {
  const secret = newSecret();
  return {
    secret,
    request: {
      label: "github",
      onBehalfOf: "telegram:111",
      otpauthUri: `otpauth://totp/GitHub:ops?secret=${secret}&issuer=GitHub`,
      spec: { secretBase32: secret, digits: 6 },
    },
  };
}

/** The one line logged since the last reset, parsed, after checking that no form of `secrets` is in its text. */
function onlyLine(...secrets: (string | Uint8Array)[]): Record<string, unknown> {
  expect(captured.lines).toHaveLength(1);
  const text = captured.lines[0] as string;
  expect(tracesIn(text, secrets.flatMap(secretTraces))).toEqual([]);
  return JSON.parse(text);
}

describe("the service log", () => {
  const log = createLogger("info");
  beforeEach(() => {
    captured.lines = [];
  });

  it("redacts the seed fields of a request logged under a key", () => {
    const { secret, request } = requestWithSeed();
    log.info({ request }, "a request");
    expect(onlyLine(secret).request).toEqual({
      label: "github",
      onBehalfOf: "telegram:111",
      otpauthUri: REDACTED,
      spec: REDACTED,
    });
  });

  it("redacts the seed fields of a request spread into the line", () => {
    const { secret, request } = requestWithSeed();
    log.info({ ...request, method: "RegisterSeed" }, "a request");
    expect(onlyLine(secret)).toMatchObject({ label: "github", otpauthUri: REDACTED, spec: REDACTED });
  });

  it("redacts an ImportSeeds URI, a bare secret and a Vault token, at the top and nested", () => {
    const bytes = new Secret({ size: 20 }).bytes;
    const uri = migrationUri([{ secret: bytes, name: "alice", issuer: "Example", type: 2 }]);
    const token = `hvs.${newSecret()}`;
    const secret = Buffer.from(bytes).toString("base64");
    log.info({ uri, secret, token, request: { uri }, record: { secret }, vault: { token } }, "fields");
    const line = onlyLine(bytes);
    expect(captured.lines[0]).not.toContain(token);
    expect(captured.lines[0]).not.toContain(uri.split("data=")[1]);
    expect(line).toMatchObject({
      uri: REDACTED,
      secret: REDACTED,
      token: REDACTED,
      request: { uri: REDACTED },
      record: { secret: REDACTED },
      vault: { token: REDACTED },
    });
  });

  it("logs an error by its fixed fields: a cause holding the request (an HTTP client's error) leaves it behind", () => {
    const { secret, request } = requestWithSeed();
    const vaultError = Object.assign(new Error("Vault answered 400"), {
      statusCode: 400,
      request: { body: { data: { secret: Buffer.from(Secret.fromBase32(secret).bytes).toString("base64") } } },
      options: { json: request },
    });
    const err = new TotpError("INTERNAL", INTERNAL_MESSAGE, { cause: vaultError });
    log.error({ err, method: "RegisterSeed", request }, "unexpected error");
    const line = onlyLine(secret);
    expect(line.err).toEqual({
      type: "TotpError",
      message: INTERNAL_MESSAGE,
      code: "INTERNAL",
      stack: expect.any(String),
      cause: { type: "Error", message: "Vault answered 400", statusCode: 400, stack: expect.any(String) },
    });
    expect(line.request).toMatchObject({ otpauthUri: REDACTED, spec: REDACTED });
  });

  it("keeps nothing of a cause that is not an Error, such as the request object itself", () => {
    const { secret, request } = requestWithSeed();
    log.error({ err: new Error("write failed", { cause: { request } }) }, "unexpected error");
    expect(onlyLine(secret).err).toMatchObject({ message: "write failed", cause: { type: "object" } });
  });
});
