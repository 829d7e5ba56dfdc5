import { describe, expect, it } from "vitest";
import { parseMultipart } from "../src/zulip/parseMultipart.js";
import { readRequestParams } from "../src/zulip/readRequestParams.js";

describe("parseMultipart", () => {
  it("reads fields whatever the header spacing and case, keeping line breaks inside values", () => {
    const body = Buffer.from(
      [
        "--XyZ",
        'Content-Disposition: form-data; name="content"',
        "",
        "line one\r\nline two",
        "--XyZ",
        'content-disposition:form-data;name="to"',
        "Content-Type: text/plain",
        "",
        "[9]",
        "--XyZ--",
        "",
      ].join("\r\n"),
    );
    expect(parseMultipart(body, 'multipart/form-data; boundary="XyZ"')).toEqual({
      content: "line one\r\nline two",
      to: "[9]",
    });
  });

  it("refuses a body without a boundary", () => {
    expect(() => parseMultipart(Buffer.from("x"), "multipart/form-data")).toThrow(/boundary/);
  });
});

describe("readRequestParams", () => {
  it("merges the query string with a urlencoded body, the body winning", () => {
    const url = new URL("http://x/api/v1/messages?type=direct&content=query");
    expect(
      readRequestParams(url, "application/x-www-form-urlencoded", Buffer.from("content=body+text&to=%5B1%5D")),
    ).toEqual({ type: "direct", content: "body text", to: "[1]" });
  });
});
