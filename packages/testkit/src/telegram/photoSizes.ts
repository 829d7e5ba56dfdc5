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
  const { width, height } = jpeg.decode(bytes, { useTArray: true });
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

function blankJpeg(width: number, height: number): PhotoVariant {
  const data = Buffer.alloc(width * height * 4, 128);
  return { width, height, data: Buffer.from(jpeg.encode({ width, height, data }, 50).data) };
}

/** Width and height of a JPEG, or zeros for bytes that are not one (a bot may upload any image). */
export function jpegDimensions(bytes: Buffer): { width: number; height: number } {
  try {
    const { width, height } = jpeg.decode(bytes, { useTArray: true });
    return { width, height };
  } catch {
    return { width: 0, height: 0 };
  }
}
