/** A non-2xx answer of the Vault HTTP API; `status` lets a test assert a refusal (403) or a sealed server (503). */
export class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    where: string,
  ) {
    super(`${where}: ${status} ${errors.join("; ") || "(no error message)"}`);
    this.name = "VaultError";
  }
}
