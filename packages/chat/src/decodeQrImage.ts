import jpeg from "jpeg-js";
import jsQRModule from "jsqr";
import { PNG } from "pngjs";

// jsqr is CommonJS whose typings declare `export default`: Node hands over module.exports, which holds it as .default.
const jsQR = jsQRModule.default;

/**
 * The most pixels decoded: Telegram's largest photo size is 2560 px on its longer side (6.5 megapixels); a bigger
 * image is refused before its pixels are allocated, so a crafted file cannot exhaust memory.
 */
const MAX_PIXELS = 16_000_000;

/** Why an image was not read. */
export class ImageError extends Error {
  override readonly name = "ImageError";
}

/** RGBA pixels of a JPEG or a PNG, told apart by their signatures. */
function pixels(image: Buffer): { data: Uint8Array; width: number; height: number } {
  if (image.length > 3 && image[0] === 0xff && image[1] === 0xd8 && image[2] === 0xff) {
    try {
      return jpeg.decode(image, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: MAX_PIXELS / 1_000_000,
        maxMemoryUsageInMB: 256,
      });
    } catch {
      throw new ImageError("the JPEG image could not be read (damaged, or too large)");
    }
  }
  if (image.length > 24 && image.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    // IHDR is the first chunk: width and height at bytes 16 and 20, read before inflating anything.
    if (image.readUInt32BE(16) * image.readUInt32BE(20) > MAX_PIXELS)
      throw new ImageError("the PNG image is too large");
    try {
      return PNG.sync.read(image);
    } catch {
      throw new ImageError("the PNG image could not be read (damaged)");
    }
  }
  throw new ImageError("the image is neither a JPEG nor a PNG");
}

/**
 * The text of the QR code in a JPEG or PNG image, or undefined when none is found. Throws ImageError when the
 * image itself cannot be read. jsQR reads both dark-on-light and inverted codes (screenshots of dark themes).
 */
export function decodeQrImage(image: Buffer): string | undefined {
  const { data, width, height } = pixels(image);
  const rgba = new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength);
  return jsQR(rgba, width, height, { inversionAttempts: "attemptBoth" })?.data ?? undefined;
}
