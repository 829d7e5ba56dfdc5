import { setTimeout as sleep } from "node:timers/promises";
import {
  type ClientOptions,
  credentials,
  type CallOptions as GrpcCallOptions,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import {
  type DeleteSeedRequest,
  type DeleteSeedResponse,
  type GenerateCodeRequest,
  type GenerateCodeResponse,
  type ImportSeedsRequest,
  type ImportSeedsResponse,
  type ListLabelsRequest,
  type ListLabelsResponse,
  type RegisterSeedRequest,
  type RegisterSeedResponse,
  TotpServiceClient,
} from "@totp-custody/contract";
import type { TotpClientOptions } from "./options.js";
import { TotpClientError } from "./TotpClientError.js";

/** Fields a caller may leave out: every request field has a zero default in proto3. */
type Input<T> = Partial<T>;

/** Per-call overrides. */
export interface CallOptions {
  deadlineMs?: number;
  signal?: AbortSignal;
}

/** The typed, promise-based client of totp-core. */
export interface TotpClient {
  generateCode(
    request: Input<GenerateCodeRequest> & { label: string },
    options?: CallOptions,
  ): Promise<GenerateCodeResponse>;
  registerSeed(
    request: Input<RegisterSeedRequest> & { label: string },
    options?: CallOptions,
  ): Promise<RegisterSeedResponse>;
  listLabels(request?: Input<ListLabelsRequest>, options?: CallOptions): Promise<ListLabelsResponse>;
  deleteSeed(request: Input<DeleteSeedRequest> & { label: string }, options?: CallOptions): Promise<DeleteSeedResponse>;
  importSeeds(
    request: Input<ImportSeedsRequest> & { uri: string },
    options?: CallOptions,
  ): Promise<ImportSeedsResponse>;
  /** Closes the channel; calls in flight fail. */
  close(): void;
}

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => { cancel(): void };

function asClientError(err: ServiceError): TotpClientError {
  const retry = err.metadata?.get("retry-after-ms")[0];
  return new TotpClientError(err.code, err.details, retry === undefined ? undefined : Number(retry));
}

/**
 * Connects to totp-core over mTLS. Every call carries a deadline; UNAVAILABLE answers (the core restarting, Vault
 * briefly down) are retried with jittered exponential backoff, since every RPC is safe to repeat: registration is
 * check-and-set, deletion of a deleted label answers NOT_FOUND.
 */
export function createTotpClient(options: TotpClientOptions): TotpClient {
  const toBuffer = (pem: string | Buffer) => (typeof pem === "string" ? Buffer.from(pem) : pem);
  const channelOptions: ClientOptions = {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    ...(options.serverName ? { "grpc.ssl_target_name_override": options.serverName } : {}),
  };
  const client = new TotpServiceClient(
    options.address,
    credentials.createSsl(toBuffer(options.ca), toBuffer(options.key), toBuffer(options.cert)),
    channelOptions,
  );
  const deadlineMs = options.deadlineMs ?? 5000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const backoffMs = options.backoffMs ?? 100;

  async function invoke<Req, Res>(method: Unary<Req, Res>, request: Req, call: CallOptions = {}): Promise<Res> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise<Res>((resolve, reject) => {
          const deadline = new Date(Date.now() + (call.deadlineMs ?? deadlineMs));
          const pending = method.call(client, request, new Metadata(), { deadline }, (err, res) =>
            err ? reject(asClientError(err)) : resolve(res),
          );
          call.signal?.addEventListener("abort", () => pending.cancel(), { once: true });
        });
      } catch (err) {
        const retryable = err instanceof TotpClientError && err.code === status.UNAVAILABLE && !call.signal?.aborted;
        if (!retryable || attempt >= maxAttempts) throw err;
        await sleep(Math.random() * backoffMs * 2 ** (attempt - 1), undefined, { signal: call.signal });
      }
    }
  }

  return {
    generateCode: (request, call) =>
      invoke(client.generateCode, { label: request.label, onBehalfOf: request.onBehalfOf ?? "" }, call),
    registerSeed: (request, call) =>
      invoke(client.registerSeed, { onBehalfOf: "", overwrite: false, ...request }, call),
    listLabels: (request = {}, call) =>
      invoke(client.listLabels, { onBehalfOf: "", pageSize: 0, pageToken: "", ...request }, call),
    deleteSeed: (request, call) => invoke(client.deleteSeed, { onBehalfOf: "", ...request }, call),
    importSeeds: (request, call) =>
      invoke(client.importSeeds, { onBehalfOf: "", labelPrefix: "", overwrite: false, ...request }, call),
    close: () => client.close(),
  };
}
