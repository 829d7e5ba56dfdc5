import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import QRCode from "qrcode";

export interface QrImageOptions {
  format: "jpeg" | "png";
  /** Pixels per module (default 8); ignored when `size` is given. */
  scale?: number;
  /** The side of the square image in pixels, the code stretched to fill it (a photo Telegram resized, 800 px). */
  size?: number;
  /** JPEG quality, 1 to 100 (default 90; Telegram recompresses photos at about 80). */
  quality?: number;
}

/** The quiet zone around the code, in modules: the 4 the QR specification asks for. */
const MARGIN = 4;

/**
 * A QR code of `text` drawn as a JPEG or PNG file, black on white, for tests of bots that read QR photos. The
 * matrix comes from the `qrcode` package (an encoder none of our code wrote), the file from jpeg-js or pngjs.
 */
export function qrImage(text: string, options: QrImageOptions): Buffer {
  const matrix = QRCode.create(text, { errorCorrectionLevel: "M" }).modules;
  const modules = matrix.size + 2 * MARGIN;
  const side = options.size ?? modules * (options.scale ?? 8);
  const data = Buffer.alloc(side * side * 4);
  for (let y = 0; y < side; y++) {
    const row = Math.floor((y * modules) / side) - MARGIN;
    for (let x = 0; x < side; x++) {
      const col = Math.floor((x * modules) / side) - MARGIN;
      const inside = row >= 0 && col >= 0 && row < matrix.size && col < matrix.size;
      const value = inside && matrix.get(row, col) ? 0 : 255;
      data.fill(value, (y * side + x) * 4, (y * side + x) * 4 + 3);
      data[(y * side + x) * 4 + 3] = 255;
    }
  }
  const image = { width: side, height: side, data };
  if (options.format === "png") {
    const png = new PNG({ width: side, height: side });
    data.copy(png.data);
    return PNG.sync.write(png);
  }
  return jpeg.encode(image, options.quality ?? 90).data;
}
