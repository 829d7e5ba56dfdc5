import jpeg from "jpeg-js";

export interface PhotoVariant {
  width: number;
  height: number;
  data: Buffer;
}

/**
 * The sizes Telegram makes of a photo, smallest first, the last being the given JPEG itself. The smaller ones are
 * blank grey JPEGs of the scaled dimensions, not downscaled copies: a bot that reads one of them instead of the
 * largest finds no QR code in it, so the test sees the mistake.
 */
export function photoSizes(bytes: Buffer): PhotoVariant[] {
  const { width, height } = jpegDimensions(bytes);
  if (width === 0) throw new Error("the photo is not a JPEG");
  const variants: PhotoVariant[] = [];
  for (const side of [90, 320]) {
    const scale = side / Math.max(width, height);
    if (scale >= 1) continue;
    variants.push(blankJpeg(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))));
  }
  if (variants.length === 0) {
    variants.push(blankJpeg(Math.max(1, Math.round(width / 4)), Math.max(1, Math.round(height / 4))));
  }
  variants.push({ width, height, data: bytes });
  return variants;
}

// jpeg-js takes a while per image on a busy machine, and tests send photos of the same few sizes.
const blanks = new Map<string, PhotoVariant>();

function blankJpeg(width: number, height: number): PhotoVariant {
  const key = `${width}x${height}`;
  let blank = blanks.get(key);
  if (blank === undefined) {
    const data = Buffer.alloc(width * height * 4, 128);
    blank = { width, height, data: Buffer.from(jpeg.encode({ width, height, data }, 50).data) };
    blanks.set(key, blank);
  }
  return blank;
}

/**
 * Width and height of a JPEG from its start-of-frame header (decoding the whole image takes seconds on a busy
 * machine), or zeros for bytes that are not a JPEG (a bot may upload any image).
 */
export function jpegDimensions(bytes: Buffer): { width: number; height: number } {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return { width: 0, height: 0 };
  let at = 2;
  while (at + 9 < bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1] as number;
    const length = bytes.readUInt16BE(at + 2);
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
    }
    at += 2 + length;
  }
  return { width: 0, height: 0 };
}
