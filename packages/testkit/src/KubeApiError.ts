/** A non-2xx answer of the Kubernetes API; `status` lets a test assert a refusal (403), absence (404) or clash (409). */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    where: string,
    detail: string,
  ) {
    super(`${where}: ${status} ${reason}${detail ? `: ${detail}` : ""}`);
    this.name = "KubeApiError";
  }
}
