import { randomBytes } from "node:crypto";
import type { PhotoVariant } from "./photoSizes.js";
import type { TgDocument, TgFile, TgPhotoSize } from "./TelegramTypes.js";

/** Files by file_id and by their relative file_path (served at /file/bot<token>/<file_path>). */
export class FileStore {
  private readonly byId = new Map<string, { file: TgFile; data: Buffer }>();
  private readonly byPath = new Map<string, Buffer>();
  private next = 1;

  store(data: Buffer, folder: string, extension: string): TgFile {
    const n = this.next++;
    const filePath = `${folder}/file_${n}.${extension}`;
    const file: TgFile = {
      file_id: `AgAC${randomBytes(12).toString("base64url")}${n}`,
      file_unique_id: `AQAD${n}`,
      file_size: data.length,
      file_path: filePath,
    };
    this.byId.set(file.file_id, { file, data });
    this.byPath.set(filePath, data);
    return file;
  }

  get(fileId: string): { file: TgFile; data: Buffer } | undefined {
    return this.byId.get(fileId);
  }

  bytesAt(filePath: string): Buffer | undefined {
    return this.byPath.get(filePath);
  }

  /** Stores each size of a photo as its own file: the PhotoSize array of a message. */
  photo(variants: PhotoVariant[]): TgPhotoSize[] {
    return variants.map(({ width, height, data }) => {
      const file = this.store(data, "photos", "jpg");
      return { file_id: file.file_id, file_unique_id: file.file_unique_id, width, height, file_size: data.length };
    });
  }

  /** Stores a file sent as a document: the Document of a message. */
  document(data: Buffer, fileName: string, mimeType: string): TgDocument {
    const file = this.store(data, "documents", fileName.split(".").pop() ?? "bin");
    return {
      file_id: file.file_id,
      file_unique_id: file.file_unique_id,
      file_name: fileName,
      mime_type: mimeType,
      file_size: data.length,
    };
  }
}
