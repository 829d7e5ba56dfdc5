import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface LoadedCertificates {
  certificate: Buffer;
  privateKey: Buffer;
  caCertificate: Buffer;
  /** When the serving certificate expires, for the expiry metric. */
  notAfter: Date;
}

/**
 * Runs the part of a load that concerns one of the files: reading it, parsing it, matching the key to it. The start
 * passes one that names the file's setting in a failure; a reload needs none.
 */
export type FileStep = <T>(file: keyof CertificateFiles, run: () => T | Promise<T>) => Promise<T>;

const asIs: FileStep = async (_file, run) => run();

/** Reads and checks a certificate set: every file parses and the key belongs to the certificate. */
export async function loadCertificates(files: CertificateFiles, step: FileStep = asIs): Promise<LoadedCertificates> {
  const [certificate, privateKey, caCertificate] = await Promise.all([
    step("certFile", () => readFile(files.certFile)),
    step("keyFile", () => readFile(files.keyFile)),
    step("caFile", () => readFile(files.caFile)),
  ]);
  const cert = await step("certFile", () =>
    parsed(files.certFile, "certificate", () => new X509Certificate(certificate)),
  );
  await step("caFile", () => parsed(files.caFile, "certificate", () => new X509Certificate(caCertificate)));
  await step("keyFile", () => {
    const key = parsed(files.keyFile, "private key", () => createPrivateKey(privateKey));
    if (!cert.checkPrivateKey(key)) throw new Error(`${files.keyFile} is not the key of ${files.certFile}`);
  });
  return { certificate, privateKey, caCertificate, notAfter: new Date(cert.validTo) };
}

/** What `parse` makes of a file; OpenSSL's reason alone ("PEM routines::no start line") names neither file nor kind. */
function parsed<T>(file: string, kind: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new Error(`${file} holds no usable PEM ${kind} (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
}

/**
 * Serves the TLS certificate, key and CA from files and re-reads them periodically, so that rotated files
 * (cert-manager replaces them in place) apply to new connections without a restart. Unlike grpc-js's own file
 * watcher it publishes only complete, consistent sets: a rotation caught half-written keeps the previous set,
 * so the server never stops accepting connections.
 */
export class CertificateReloader {
  readonly #files: CertificateFiles;
  readonly #onChange: (loaded: LoadedCertificates) => void;
  readonly #onError: (err: unknown) => void;
  #current: LoadedCertificates;
  #digest: string;
  #timer: NodeJS.Timeout;

  private constructor(
    files: CertificateFiles,
    first: LoadedCertificates,
    reloadMs: number,
    onChange: (loaded: LoadedCertificates) => void,
    onError: (err: unknown) => void,
  ) {
    this.#files = files;
    this.#current = first;
    this.#digest = digestOf(first);
    this.#onChange = onChange;
    this.#onError = onError;
    this.#timer = setInterval(() => void this.reload(), reloadMs);
    this.#timer.unref();
  }

  /** Loads the files once, each part in `step` (a bad set stops the start), and then watches them. */
  static async start(
    files: CertificateFiles,
    reloadMs: number,
    onChange: (loaded: LoadedCertificates) => void,
    onError: (err: unknown) => void,
    step?: FileStep,
  ): Promise<CertificateReloader> {
    const first = await loadCertificates(files, step);
    onChange(first);
    return new CertificateReloader(files, first, reloadMs, onChange, onError);
  }

  get current(): LoadedCertificates {
    return this.#current;
  }

  /** Re-reads the files now; publishes them when they changed and are consistent. */
  async reload(): Promise<void> {
    let next: LoadedCertificates;
    try {
      next = await loadCertificates(this.#files);
    } catch (err) {
      this.#onError(err);
      return;
    }
    const digest = digestOf(next);
    if (digest === this.#digest) return;
    this.#current = next;
    this.#digest = digest;
    this.#onChange(next);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

function digestOf(loaded: LoadedCertificates): string {
  return createHash("sha256")
    .update(loaded.certificate)
    .update(loaded.privateKey)
    .update(loaded.caCertificate)
    .digest("hex");
}
