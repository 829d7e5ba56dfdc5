import { describe, expect, it } from "vitest";
import { decodePageToken, encodePageToken, FIRST_PAGE } from "../src/pageToken.js";
import { rejection } from "./rejection.js";

const alice = "telegram:1";
const bob = "telegram:2";
const refused = async (principal: string, token: string) =>
  (await rejection(Promise.resolve().then(() => decodePageToken(principal, token)))).code;
const edited = (token: string, change: (body: Record<string, unknown>) => void) => {
  const body = JSON.parse(Buffer.from(token, "base64url").toString()) as Record<string, unknown>;
  change(body);
  return Buffer.from(JSON.stringify(body)).toString("base64url");
};

describe("page tokens", () => {
  it("resume at the cursor they were made for, for the principal they were issued to", () => {
    expect(decodePageToken(alice, "")).toEqual(FIRST_PAGE);
    for (const cursor of [
      { phase: "personal", after: "github" },
      { phase: "shared", after: "" },
      { phase: "shared", after: "aws-root" },
    ] as const) {
      expect(decodePageToken(alice, encodePageToken(alice, cursor))).toEqual(cursor);
    }
  });

  it("name neither the principal nor anything but the last label", () => {
    const token = encodePageToken(alice, { phase: "personal", after: "github" });
    expect(Buffer.from(token, "base64url").toString()).not.toContain(alice);
  });

  it("refuse another principal's token, an edited one and an offset token of earlier versions", async () => {
    const token = encodePageToken(alice, { phase: "personal", after: "github" });
    expect(await refused(bob, token)).toBe("INVALID_ARGUMENT");
    expect(
      await refused(
        alice,
        edited(token, (b) => Object.assign(b, { p: "everyone" })),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await refused(
        alice,
        edited(token, (b) => Object.assign(b, { a: "../x" })),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      await refused(
        alice,
        edited(token, (b) => Object.assign(b, { v: 2 })),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(await refused(alice, Buffer.from("7.0123456789abcdef").toString("base64url"))).toBe("INVALID_ARGUMENT");
    expect(await refused(alice, "not base64 at all!")).toBe("INVALID_ARGUMENT");
  });
});
