import { afterEach, describe, expect, it } from "vitest";
import { type HealthServer, notAllowedReply, startHealthServer } from "../src/index.js";
import { plainText } from "./chatFixture.js";

describe("the bots' probe port", () => {
  let server: HealthServer | undefined;
  afterEach(() => server?.close());

  const get = async (path: string, method = "GET") => {
    const response = await fetch(`http://127.0.0.1:${server?.port}${path}`, { method });
    return { status: response.status, body: await response.text() };
  };

  it("answers /healthz while it runs and /readyz by its checks, naming each failed one", async () => {
    let coreUp = false;
    server = await startHealthServer(
      { host: "127.0.0.1", port: 0 },
      {
        chat: async () => {},
        "totp-core": async () => {
          if (!coreUp) throw new Error("NOT_SERVING");
        },
      },
    );
    expect(await get("/healthz")).toEqual({ status: 200, body: "ok\n" });
    expect(await get("/readyz")).toEqual({ status: 503, body: "totp-core: NOT_SERVING\n" });
    coreUp = true;
    expect(await get("/readyz")).toEqual({ status: 200, body: "ready\n" });
    expect((await get("/other")).status).toBe(404);
    expect((await get("/healthz", "POST")).status).toBe(405);
  });

  it("fails a check that does not answer, instead of hanging the probe", async () => {
    server = await startHealthServer({ host: "127.0.0.1", port: 0 }, { chat: () => new Promise(() => {}) });
    expect(await get("/readyz")).toEqual({ status: 503, body: "chat: no answer within 3000 ms\n" });
  });
});

describe("the allowlist's refusal", () => {
  it("is polite and gives the principal an operator would add", () => {
    const reply = notAllowedReply({ platform: "zulip", userId: "77", origin: "private", answersPrivately: false });
    expect(plainText(reply)).toMatch(/not among them/);
    expect(plainText(reply)).toMatch(/your principal is zulip:77\.$/);
  });
});
