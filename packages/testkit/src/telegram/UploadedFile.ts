/** A file part of a multipart request (an InputFile the bot uploaded). */
export class UploadedFile {
  constructor(
    readonly filename: string,
    readonly contentType: string | undefined,
    readonly data: Buffer,
  ) {}

  /** How the request log shows it: never the bytes. */
  toJSON(): { filename: string; size: number } {
    return { filename: this.filename, size: this.data.length };
  }
}
