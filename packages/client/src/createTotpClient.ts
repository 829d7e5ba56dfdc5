import { setTimeout as sleep } from "node:timers/promises";
import {
  type ChannelCredentials,
  type ClientOptions,
  type ClientUnaryCall,
  credentials,
  experimental,
  type CallOptions as GrpcCallOptions,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import {
  type DeepPartial,
  DeleteSeedRequest,
  type DeleteSeedResponse,
  GenerateCodeRequest,
  type GenerateCodeResponse,
  ImportSeedsRequest,
  type ImportSeedsResponse,
  ListLabelsRequest,
  type ListLabelsResponse,
  RegisterSeedRequest,
  type RegisterSeedResponse,
  TotpServiceClient,
} from "@totp-custody/contract";
import { service as healthService, type ServingStatus } from "grpc-health-check";
import { LastGoodCertificateProvider } from "./LastGoodCertificateProvider.js";
import type { TotpClientFileOptions, TotpClientOptions } from "./options.js";
import { TotpClientError } from "./TotpClientError.js";

/**
 * Fields a caller may leave out, in nested messages too (a spec with only its secret): every field has a zero
 * default in proto3, and each request is completed with them (ts-proto's fromPartial) before it is serialized.
 */
type Input<T> = DeepPartial<T>;

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
  /**
   * totp-core's own answer to grpc.health.v1 Check for the whole server, over this client's mTLS channel (what a
   * bot's readiness probe asks): SERVING, or NOT_SERVING while its store is down or it shuts down. One attempt with
   * the deadline; a failed call throws TotpClientError.
   */
  checkHealth(options?: CallOptions): Promise<ServingStatus>;
  /** Closes the channel; calls in flight fail. */
  close(): void;
}

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

const HealthClient = makeGenericClientConstructor(healthService, "Health");

/** One attempt's end: the answer, or the error and whether the request may have reached totp-core. */
type Attempt<Res> = { response: Res } | { error: TotpClientError; sent: boolean };

function asClientError(err: ServiceError): TotpClientError {
  const retry = err.metadata?.get("retry-after-ms")[0];
  return new TotpClientError(err.code, err.details, retry === undefined ? undefined : Number(retry));
}

/**
 * Whether grpc-js opened an HTTP/2 stream for a finished call, that is whether its request may have reached the
 * server. A call has the auth context of the connection its stream was opened on, and none (null) when no stream was
 * ever opened: the pick failed because no connection could be established (nothing listening, TLS handshake refused:
 * "No connection established..."), or the channel was closed first. A status the server sent arrives on a stream, so
 * it always comes with an auth context. The status text would tell pick failures apart too, but it is prose that
 * differs between load balancers and releases; getAuthContext() is part of the call's typed API.
 * Checked in grpc-js 1.14.7: LoadBalancingCall and ResolvingCall answer null until they have a child call, and a
 * SubchannelCall answers its transport's context, never null. grpc-js itself repeats an attempt only when it never
 * left the client or the server refused its stream unrun (transparent retry), so a null on the last attempt means
 * that no attempt ran.
 */
function openedStream(call: ClientUnaryCall): boolean {
  return call.getAuthContext() !== null;
}

/** How often the files of TotpClientFileOptions are read again by default. */
const TLS_REFRESH_MS = 60_000;

/**
 * The channel's mTLS credentials. PEM given as text or bytes is used for the life of the client. Files are read by
 * grpc-js's FileWatcherCertificateProvider, first when the channel starts connecting (a connection waits for that
 * first read) and then every refresh interval; each new connection takes the last good read (see
 * LastGoodCertificateProvider), so a renewed certificate is used from the next connection on, and connections already
 * open keep theirs until they close (totp-core closes each after TOTP_MAX_CONNECTION_AGE_MS). The server name check
 * (grpc.ssl_target_name_override) applies to both forms: grpc-js builds the connection options the same way for each.
 */
function channelCredentials(options: TotpClientOptions | TotpClientFileOptions): ChannelCredentials {
  const pem = "ca" in options || "cert" in options || "key" in options;
  const files = "caFile" in options || "certFile" in options || "keyFile" in options;
  if (pem === files) throw new Error("createTotpClient: give either ca, cert and key, or caFile, certFile and keyFile");
  if ("caFile" in options) {
    const provider = new LastGoodCertificateProvider(
      new experimental.FileWatcherCertificateProvider({
        caCertificateFile: options.caFile,
        certificateFile: options.certFile,
        privateKeyFile: options.keyFile,
        refreshIntervalMs: options.refreshIntervalMs ?? TLS_REFRESH_MS,
      }),
    );
    return experimental.createCertificateProviderChannelCredentials(provider, provider);
  }
  const toBuffer = (pem: string | Buffer) => (typeof pem === "string" ? Buffer.from(pem) : pem);
  return credentials.createSsl(toBuffer(options.ca), toBuffer(options.key), toBuffer(options.cert));
}

/**
 * Connects to totp-core over mTLS, with PEM material given once or with files it re-reads (see channelCredentials).
 * Every call carries a deadline. UNAVAILABLE is retried with jittered exponential backoff, but only where repeating
 * cannot apply anything twice: the reads (GenerateCode, ListLabels) after any UNAVAILABLE, the writes (RegisterSeed,
 * DeleteSeed, ImportSeeds) only when the request never left this client.
 * totp-core also answers a write UNAVAILABLE after Vault may have applied it (a Vault timeout, the end of the
 * shutdown grace period, an import that stopped midway); repeated, it would answer ALREADY_EXISTS or NOT_FOUND for
 * the caller's own write, so that UNAVAILABLE goes to the caller, who knows whether to check and repeat.
 */
export function createTotpClient(options: TotpClientOptions | TotpClientFileOptions): TotpClient {
  const channelOptions: ClientOptions = {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    ...(options.serverName ? { "grpc.ssl_target_name_override": options.serverName } : {}),
  };
  const client = new TotpServiceClient(options.address, channelCredentials(options), channelOptions);
  const deadlineMs = options.deadlineMs ?? 5000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const backoffMs = options.backoffMs ?? 100;

  // The health service's stub shares the channel: the probe checks the connection the calls use.
  const health = new HealthClient(options.address, credentials.createInsecure(), {
    channelOverride: client.getChannel(),
  });

  function attemptOnce<Req, Res>(
    method: Unary<Req, Res>,
    request: Req,
    call: CallOptions,
    stub: object = client,
  ): Promise<Attempt<Res>> {
    return new Promise((resolve) => {
      const deadline = new Date(Date.now() + (call.deadlineMs ?? deadlineMs));
      // grpc-js ends a call on a later tick (process.nextTick, setImmediate), never within method.call: `pending` is
      // set by the time the callback reads it.
      const pending = method.call(stub, request, new Metadata(), { deadline }, (err, res) =>
        resolve(err ? { error: asClientError(err), sent: openedStream(pending) } : { response: res }),
      );
      call.signal?.addEventListener("abort", () => pending.cancel(), { once: true });
    });
  }

  /** `idempotent`: the RPC changes nothing, so it may be repeated even when an attempt reached the server. */
  async function invoke<Req, Res>(
    method: Unary<Req, Res>,
    request: Req,
    call: CallOptions = {},
    idempotent = false,
  ): Promise<Res> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await attemptOnce(method, request, call);
      if ("response" in outcome) return outcome.response;
      const retryable =
        outcome.error.code === status.UNAVAILABLE && (idempotent || !outcome.sent) && !call.signal?.aborted;
      if (!retryable || attempt >= maxAttempts) throw outcome.error;
      await sleep(Math.random() * backoffMs * 2 ** (attempt - 1), undefined, { signal: call.signal });
    }
  }

  return {
    generateCode: (request, call) => invoke(client.generateCode, GenerateCodeRequest.fromPartial(request), call, true),
    registerSeed: (request, call) => invoke(client.registerSeed, RegisterSeedRequest.fromPartial(request), call),
    listLabels: (request = {}, call) => invoke(client.listLabels, ListLabelsRequest.fromPartial(request), call, true),
    deleteSeed: (request, call) => invoke(client.deleteSeed, DeleteSeedRequest.fromPartial(request), call),
    importSeeds: (request, call) => invoke(client.importSeeds, ImportSeedsRequest.fromPartial(request), call),
    checkHealth: async (call = {}) => {
      const check = health.Check as Unary<{ service: string }, { status?: ServingStatus }>;
      const outcome = await attemptOnce(check, { service: "" }, call, health);
      if ("error" in outcome) throw outcome.error;
      return outcome.response.status ?? "UNKNOWN";
    },
    close: () => client.close(),
  };
}
