/**
 * One failed Vault request, described by a fixed set of fields. The errors an HTTP stack throws carry the
 * request they failed on (the X-Vault-Token header, a body that can hold a seed), so they are never kept as a
 * cause or logged: this is what goes into logs instead.
 */
export class VaultFailure extends Error {
  override readonly name = "VaultFailure";

  constructor(
    /** What we asked, e.g. "kv read". */
    readonly op: string,
    /** The API path, without the server address. Paths hold labels and principals, never secrets. */
    readonly path: string,
    /** The HTTP status, or undefined when no answer came (refused, reset, timed out, TLS failure). */
    readonly status: number | undefined,
    /**
     * When no answer came: the network or TLS error code, e.g. ECONNREFUSED, ETIMEDOUT (no answer in time) or a
     * certificate error; undefined when the request never left (a bug of ours, not an outage).
     */
    readonly errno: string | undefined,
    /** Vault's own error texts, for operators. They describe the request, not its data. */
    readonly vaultErrors: readonly string[],
  ) {
    const what = status !== undefined ? `HTTP ${status}` : (errno ?? "request not sent");
    const said = vaultErrors.length > 0 ? `: ${vaultErrors.join("; ").slice(0, 300)}` : "";
    super(`Vault ${op} ${path}: ${what}${said}`);
  }

  /**
   * A failure of `op` from whatever it threw: a VaultFailure as it is, anything else (a bug of ours, the request
   * never sent) without any of its content.
   */
  static from(err: unknown, op: string, path: string): VaultFailure {
    return err instanceof VaultFailure ? err : new VaultFailure(op, path, undefined, undefined, []);
  }

  /** Unreachable, timed out, sealed, overloaded or failing: worth retrying later, the caller did nothing wrong. */
  get unavailable(): boolean {
    if (this.status === undefined) return this.errno !== undefined;
    return this.status >= 500 || this.status === 429;
  }
}
