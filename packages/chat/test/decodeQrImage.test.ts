import { newSecret, qrImage } from "@totp-custody/testkit";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { decodeQrImage, ImageError } from "../src/index.js";

const uri = () => `otpauth://totp/Acme:alice%40example.com?secret=${newSecret(32)}&issuer=Acme&period=30`;

describe("decodeQrImage", () => {
  it("reads a QR code from a JPEG at Telegram's photo size and quality (800x800, quality 80)", () => {
    const text = uri();
    const photo = qrImage(text, { format: "jpeg", size: 800, quality: 80 });
    expect(jpeg.decode(photo)).toMatchObject({ width: 800, height: 800 });
    expect(decodeQrImage(photo)).toBe(text);
  });

  it("reads JPEGs of other sizes and qualities, and PNGs", () => {
    const text = uri();
    for (const options of [
      { format: "jpeg", scale: 4 },
      { format: "jpeg", size: 320, quality: 60 },
      { format: "jpeg", size: 1280, quality: 87 },
      { format: "png", scale: 2 },
      { format: "png", size: 800 },
    ] as const) {
      expect(decodeQrImage(qrImage(text, options)), JSON.stringify(options)).toBe(text);
    }
  });

  it("reads an inverted code (light on dark, a dark-theme screenshot)", () => {
    const text = uri();
    const png = PNG.sync.read(qrImage(text, { format: "png", scale: 4 }));
    for (let i = 0; i < png.data.length; i += 4) {
      for (let c = 0; c < 3; c++) png.data[i + c] = 255 - (png.data[i + c] as number);
    }
    expect(decodeQrImage(PNG.sync.write(png))).toBe(text);
  });

  it("answers undefined for an image without a QR code", () => {
    const side = 800;
    const noise = Buffer.alloc(side * side * 4);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    expect(decodeQrImage(jpeg.encode({ width: side, height: side, data: noise }, 80).data)).toBeUndefined();
    const white = new PNG({ width: 64, height: 64 });
    white.data.fill(255);
    expect(decodeQrImage(PNG.sync.write(white))).toBeUndefined();
  });

  it("refuses what is not a readable JPEG or PNG with an ImageError", () => {
    const photo = qrImage(uri(), { format: "jpeg" });
    const png = qrImage(uri(), { format: "png" });
    const cases: [Buffer, RegExp][] = [
      [Buffer.from("GIF89a..."), /neither a JPEG nor a PNG/],
      [Buffer.alloc(0), /neither a JPEG nor a PNG/],
      [photo.subarray(0, 200), /JPEG image could not be read/],
      [png.subarray(0, 40), /PNG image could not be read/],
    ];
    for (const [image, message] of cases) {
      expect(() => decodeQrImage(image)).toThrow(ImageError);
      expect(() => decodeQrImage(image)).toThrow(message);
    }
  });

  it("refuses an image over 16 megapixels before decoding its pixels", () => {
    // A PNG header claiming 5000x5000: refused from the header alone.
    const png = Buffer.from(qrImage(uri(), { format: "png" }));
    png.writeUInt32BE(5000, 16);
    png.writeUInt32BE(5000, 20);
    expect(() => decodeQrImage(png)).toThrow(/PNG image is too large/);
    // A JPEG whose frame header claims 5000x5000 pixels.
    const photo = Buffer.from(qrImage(uri(), { format: "jpeg" }));
    const sof = photo.indexOf(Buffer.from([0xff, 0xc0]));
    photo.writeUInt16BE(5000, sof + 5);
    photo.writeUInt16BE(5000, sof + 7);
    expect(() => decodeQrImage(photo)).toThrow(/JPEG image could not be read \(damaged, or too large\)/);
  });
});
