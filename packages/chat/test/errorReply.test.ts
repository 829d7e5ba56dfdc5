import { status, TotpClientError } from "@totp-custody/client";
import { describe, expect, it } from "vitest";
import { errorReply } from "../src/index.js";
import { plainText } from "./chatFixture.js";

const subject = { label: "github", principal: "zulip:42" };
const worded = (err: unknown, about: { label?: string; principal: string } = subject) =>
  plainText(errorReply(err, about));

describe("errorReply, the one mapping from a failed call to what the user reads", () => {
  it("words each status the core answers", () => {
    expect(worded(new TotpClientError(status.NOT_FOUND, "label github not found"))).toBe(
      "There is no label github you can read. Send list to see yours.",
    );
    expect(worded(new TotpClientError(status.PERMISSION_DENIED, "client x acts for telegram users only"))).toBe(
      "You are not allowed to do that. An operator can allow it for your principal, zulip:42.",
    );
    expect(worded(new TotpClientError(status.RESOURCE_EXHAUSTED, "rate limited", 1))).toBe(
      "Too many requests. Try again in 1 s.",
    );
    expect(worded(new TotpClientError(status.RESOURCE_EXHAUSTED, "rate limited", 12_001))).toBe(
      "Too many requests. Try again in 13 s.",
    );
    expect(worded(new TotpClientError(status.RESOURCE_EXHAUSTED, "Received message larger than max"))).toBe(
      "That message is too large for me.",
    );
    expect(worded(new TotpClientError(status.INVALID_ARGUMENT, "secret: not base32."))).toBe(
      "That was refused: secret: not base32.",
    );
    expect(worded(new TotpClientError(status.ALREADY_EXISTS, "exists"))).toBe(
      "Label github already exists. Overwriting is not offered here: remove it first with remove github, then add it again.",
    );
    const unnamed = { principal: "zulip:42" };
    expect(worded(new TotpClientError(status.ALREADY_EXISTS, "exists"), unnamed)).toBe(
      "That label already exists. Overwriting is not offered here: remove it first with remove <label>, then add it again.",
    );
    expect(worded(new TotpClientError(status.NOT_FOUND, "not found"), unnamed)).toBe(
      "There is no such label you can read. Send list to see yours.",
    );
    for (const code of [status.UNAVAILABLE, status.DEADLINE_EXCEEDED]) {
      expect(worded(new TotpClientError(code, "No connection established. Last error: connect ECONNREFUSED"))).toBe(
        "The code service is unavailable right now. Please try again in a moment.",
      );
    }
  });

  it("marks only an unreachable core as such, so an adapter may run the message again later", () => {
    for (const code of [status.UNAVAILABLE, status.DEADLINE_EXCEEDED]) {
      expect(errorReply(new TotpClientError(code, "down"), subject).coreUnavailable).toBe(true);
    }
    for (const code of [status.NOT_FOUND, status.PERMISSION_DENIED, status.INVALID_ARGUMENT, status.INTERNAL]) {
      expect(errorReply(new TotpClientError(code, "no"), subject).coreUnavailable).toBeUndefined();
    }
    expect(errorReply(new Error("boom"), subject).coreUnavailable).toBeUndefined();
  });

  it("gives anything else one fixed message, never the error's own text or stack", () => {
    const generic = "Something went wrong on my side. Please try again later.";
    const internal = new TotpClientError(status.INTERNAL, "vault at 10.0.0.7:8200 said permission denied");
    expect(worded(internal)).toBe(generic);
    expect(worded(new TotpClientError(status.UNKNOWN, "boom"))).toBe(generic);
    const thrown = new TypeError("Cannot read properties of undefined (reading 'code')");
    expect(worded(thrown)).toBe(generic);
    expect(worded("a string")).toBe(generic);
  });
});
