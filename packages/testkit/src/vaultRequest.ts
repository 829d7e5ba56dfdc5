import { VaultError } from "./VaultError.js";

/**
 * One call of the Vault HTTP API (`path` below /v1/). Answers the parsed JSON body, or undefined for 204.
 * The token goes only into the header: error messages name the method and path, never the token.
 */
export async function vaultRequest<T = unknown>(
  addr: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const where = `${method} /v1/${path.replace(/^\/+/, "")}`;
  const response = await fetch(`${addr}/v1/${path.replace(/^\/+/, "")}`, {
    method,
    headers: {
      ...(token ? { "X-Vault-Token": token } : {}),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new VaultError(response.status, errorsOf(text), where);
  return (text ? JSON.parse(text) : undefined) as T;
}

// Vault answers errors as {"errors": [...]}, but a route it does not know gets a plain-text 404.
function errorsOf(text: string): string[] {
  try {
    return (JSON.parse(text) as { errors?: string[] }).errors ?? [];
  } catch {
    return text ? [text.slice(0, 200)] : [];
  }
}
