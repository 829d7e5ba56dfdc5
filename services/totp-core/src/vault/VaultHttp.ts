import { Pool } from "undici";
import { VaultFailure } from "./VaultFailure.js";

/** A Vault reply's JSON body; undefined for a 204. */
export type Reply = { data?: Record<string, unknown>; auth?: Record<string, unknown> } | undefined;

export interface VaultHttpOptions {
  /** e.g. https://vault.internal:8200; a path after the host prefixes every API path. */
  addr: string;
  /** The CA that signed Vault's certificate, when it is a private one. The public roots are used otherwise. */
  caCertPem?: string | undefined;
  /** Connecting, waiting for the answer's headers and for each part of its body: each gives up after this long. */
  timeoutMs: number;
}

export interface VaultRequest {
  /** What we ask, for errors and logs, e.g. "kv read". */
  op: string;
  method: "GET" | "POST" | "DELETE";
  /** The API path below /v1/, without a query. */
  path: string;
  /** URL query parameters, encoded here. */
  query?: Record<string, string>;
  body?: unknown;
  /** The token to send; none for a login. */
  token?: string;
  /** Answer the body whatever the status (sys/health says what it knows with 429, 5xx and the like). */
  anyStatus?: boolean;
}

/** Network error codes of undici that name a timeout or a cut connection, in the words of the socket layer. */
const ERRNO_OF: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: "ETIMEDOUT",
  UND_ERR_HEADERS_TIMEOUT: "ETIMEDOUT",
  UND_ERR_BODY_TIMEOUT: "ETIMEDOUT",
  UND_ERR_SOCKET: "ECONNRESET",
};

/**
 * Vault's HTTP API over one keep-alive connection pool (undici). Replaces node-vault, whose request path (templates,
 * axios, its interceptors) cost about 500 us of CPU per request where this one takes about 90: the seed cache asks
 * Vault whether each warm seed is still current twice a second, so that cost was paid all the time.
 *
 * Every failure is thrown as a VaultFailure, which holds no header and no body: the errors of the HTTP stack carry
 * the request (the X-Vault-Token header, a body that can hold a seed), so they are never kept or logged.
 */
export class VaultHttp {
  readonly #pool: Pool;
  readonly #prefix: string;

  constructor(options: VaultHttpOptions) {
    const url = new URL(options.addr);
    this.#prefix = url.pathname.replace(/\/+$/, "");
    this.#pool = new Pool(url.origin, {
      connect: {
        timeout: options.timeoutMs,
        rejectUnauthorized: true,
        ...(options.caCertPem ? { ca: options.caCertPem } : {}),
      },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** Sends one request; answers its JSON body (undefined when empty), throws VaultFailure for any other outcome. */
  async send({ op, method, path, query, body, token, anyStatus = false }: VaultRequest): Promise<Reply> {
    const search = query ? `?${new URLSearchParams(query)}` : "";
    const headers: Record<string, string> = {};
    if (token !== undefined) headers["x-vault-token"] = token;
    if (body !== undefined) headers["content-type"] = "application/json";
    let status: number;
    let text: string;
    try {
      const answer = await this.#pool.request({
        method,
        path: `${this.#prefix}/v1/${path}${search}`,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      });
      status = answer.statusCode;
      text = await answer.body.text();
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      const errno = typeof code === "string" ? (ERRNO_OF[code] ?? code) : "ERR_NETWORK";
      throw new VaultFailure(op, path, undefined, errno, []);
    }
    const parsed = parseJson(text);
    if ((status >= 200 && status < 300) || anyStatus) return parsed as Reply;
    const errors = (parsed as { errors?: unknown } | undefined)?.errors;
    const vaultErrors = Array.isArray(errors) ? errors.filter((e): e is string => typeof e === "string") : [];
    throw new VaultFailure(op, path, status, undefined, vaultErrors);
  }

  /** Ends every connection; requests sent after it fail. */
  close(): void {
    this.#pool.destroy().catch(() => {});
  }
}

/** A body as JSON; undefined when it is empty or not JSON (a proxy's HTML error page, say). */
function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
