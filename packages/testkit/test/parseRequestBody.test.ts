import { describe, expect, it } from "vitest";
import { BodyError, parseRequestBody } from "../src/telegram/parseRequestBody.js";
import { UploadedFile } from "../src/telegram/UploadedFile.js";

const boundary = "a1b2c3";

function multipart(parts: string[]): Buffer {
  return Buffer.from(`--${boundary}\r\n${parts.join(`\r\n--${boundary}\r\n`)}\r\n--${boundary}--`, "latin1");
}

describe("parseRequestBody", () => {
  it("reads multipart parts whose headers have no space after the colon, as telegraf writes them", () => {
    const jpegBytes = "\xff\xd8\xff\xe0binary\r\n--not-a-boundary";
    const body = multipart([
      'content-disposition:form-data; name="chat_id"\r\n\r\n42',
      `content-disposition:form-data; name="photo"; filename="qr.jpg"\r\ncontent-type:image/jpeg\r\n\r\n${jpegBytes}`,
      'Content-Disposition: form-data; name="caption"\r\n\r\nline 1\r\nline 2',
    ]);
    const params = parseRequestBody(new URLSearchParams(), `multipart/form-data; boundary=${boundary}`, body);
    expect(params.chat_id).toBe("42");
    expect(params.caption).toBe("line 1\r\nline 2");
    const photo = params.photo as UploadedFile;
    expect(photo).toBeInstanceOf(UploadedFile);
    expect(photo.filename).toBe("qr.jpg");
    expect(photo.contentType).toBe("image/jpeg");
    expect(photo.data.equals(Buffer.from(jpegBytes, "latin1"))).toBe(true);
  });

  it("merges the query string with JSON and urlencoded bodies", () => {
    const query = new URLSearchParams("chat_id=7");
    expect(parseRequestBody(query, "application/json; charset=utf-8", Buffer.from('{"text":"hi"}'))).toEqual({
      chat_id: "7",
      text: "hi",
    });
    expect(parseRequestBody(query, "application/x-www-form-urlencoded", Buffer.from("text=a+b%21"))).toEqual({
      chat_id: "7",
      text: "a b!",
    });
    expect(parseRequestBody(query, undefined, Buffer.alloc(0))).toEqual({ chat_id: "7" });
  });

  it("refuses what it cannot read with a Bad Request description", () => {
    expect(() => parseRequestBody(new URLSearchParams(), "application/json", Buffer.from("{nope"))).toThrow(BodyError);
    expect(() => parseRequestBody(new URLSearchParams(), "multipart/form-data", Buffer.from("x"))).toThrow(
      /without a boundary/,
    );
    const truncated = Buffer.from(`--${boundary}\r\ncontent-disposition:form-data; name="a"\r\n\r\nvalue`);
    expect(() =>
      parseRequestBody(new URLSearchParams(), `multipart/form-data; boundary=${boundary}`, truncated),
    ).toThrow(/closing boundary/);
  });
});
