import { randomUUID } from "node:crypto";
import { type handleUnaryCall, type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js";
import type { TotpServiceServer } from "@totp-custody/contract";
import type { Logger } from "pino";
import { asTotpError, type ErrorCode, statusOf, TotpError, toServiceError } from "./errors.js";
import { clientCertificate } from "./identity.js";
import type { AuditEntry } from "./ops/AuditLog.js";
import type { RateLimitKind } from "./ops/RateLimits.js";
import { type Caller, type Policy, resolveCaller } from "./policy/index.js";
import type { EntryHooks, TotpService } from "./TotpService.js";

/** Which rate limit an RPC (or an entry of ImportSeeds) draws on; see narrowLimitOf. */
export type LimitKind = RateLimitKind;

/** What the transport layer does around every call; the server wires these to the audit log, limits and metrics. */
export interface CallHooks {
  /** Throws (or, with limits shared through Redis, rejects with) TotpError RESOURCE_EXHAUSTED when over a limit. */
  checkLimit(kind: LimitKind, principal: string, label: string | undefined): void | Promise<void>;
  /** Resolves once the audit line is durably written: the answer leaves only after that. */
  audit(entry: AuditEntry): Promise<void>;
  /**
   * Asked for each call refused before it could run (unknown identity, bad on_behalf_of, a rate limit): whether
   * it gets its own audit line, or is only counted in the client's next summary line and answered with the wait.
   */
  admitRefusal(client: string): { audit: true } | { audit: false; retryAfterMs: number };
  /**
   * Closes, after a grace period, the connection (named as grpc-js's getPeer names it) of a client that went on
   * sending refused calls past its budget: it costs the server a refusal per call and has no claim to the connection.
   */
  cutConnection(peer: string): void;
  /** True once an audit write failed: from then on no call may run, since none could be audited. */
  auditBroken(): boolean;
  /** Counts the call and its latency. */
  observe(method: string, outcome: "ok" | ErrorCode, seconds: number): void;
}

export interface GrpcServiceDeps {
  service: TotpService;
  policy: () => Policy;
  hooks: CallHooks;
  log: Logger;
  /**
   * Holds, while a call runs, a function that answers it UNAVAILABLE at once (audited as such). The server calls
   * them when the shutdown grace period is over: UNAVAILABLE tells a client the server is going (the SDK repeats a
   * read on another connection), whereas cutting connections with calls on them answers some of those CANCELLED.
   * A plain set: a call adds and removes itself, cheaply.
   */
  inFlight?: Set<() => void>;
}

/** What a caller cut off by the end of the grace period is told; retrying reaches another replica. */
const SHUTTING_DOWN = new TotpError("UNAVAILABLE", "server shutting down; retry");
/** What every caller is told once the audit log cannot be written: nothing ran, and another replica can serve it. */
const AUDIT_BROKEN = toServiceError(new TotpError("UNAVAILABLE", "audit log not writable on this server; retry"));

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The address part of a grpc-js peer ("ipv4:127.0.0.1:5123", "[::1]:5123"): what names a client without identity. */
const peerAddress = (peer: string): string => `peer:${peer.replace(/:\d+$/, "")}`;

/** A refusal over the client's budget of refusals: no line of its own, only the count in a summary line. */
const tooManyRefusals = (retryAfterMs: number) =>
  toServiceError(
    new TotpError(
      "RESOURCE_EXHAUSTED",
      `too many refused calls from this client; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
      { retryAfterMs },
    ),
  );

interface Request {
  onBehalfOf: string;
  label?: string;
}

/** The grpc-js implementation of TotpService: identity, limits, audit and error mapping around each operation. */
export function createGrpcService({ service, policy, hooks, log, inFlight }: GrpcServiceDeps): TotpServiceServer {
  function unary<Req extends Request, Res>(
    method: string,
    kind: LimitKind,
    run: (caller: Caller, request: Req, entryHooks: EntryHooks) => Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const started = performance.now();
      const observe = (outcome: "ok" | ErrorCode) =>
        hooks.observe(method, outcome, (performance.now() - started) / 1000);
      // Checked before anything runs, so that a registration or deletion never happens without its audit line.
      if (hooks.auditBroken()) {
        observe("UNAVAILABLE");
        callback(AUDIT_BROKEN, null);
        return;
      }
      const certificate = clientCertificate(call);
      const client = certificate?.id;
      const sentId = call.metadata.get("x-request-id")[0];
      const requestId = typeof sentId === "string" && REQUEST_ID.test(sentId) ? sentId : randomUUID();
      const label = call.request.label || undefined;
      let principal: string | undefined;
      // Whether the caller is a bot acting for a user: see Caller.forUser.
      let forUser = false;
      // A line each, written before the call's own line, for the labels of a call that handles several.
      let entries: Array<{ label: string | undefined; outcome: "ok" | ErrorCode }> | undefined;
      // Until the call passes its identity and limit checks, a failure is a refusal and draws on the refusal budget.
      let refusedEarly = true;
      // The first of the call's own result and the end of the grace period answers; the other is dropped.
      let settled = false;

      const finish = (outcome: "ok" | ErrorCode, grpcStatus: number, answer: () => void) => {
        if (settled) return;
        settled = true;
        inFlight?.delete(abandon);
        const latency = performance.now() - started;
        const entry: AuditEntry = {
          requestId,
          client: client ?? "",
          principal,
          method,
          label,
          outcome,
          status: grpcStatus,
          latencyMs: Math.round(latency * 1000) / 1000,
        };
        // Most calls have no entries: their one line needs no Promise.all.
        const written =
          entries === undefined
            ? hooks.audit(entry)
            : Promise.all([
                ...entries.map(({ label, outcome }) =>
                  hooks.audit({ ...entry, label, outcome, status: statusOf(outcome) }),
                ),
                hooks.audit(entry),
              ]);
        // Counted once the answer is known, with the audit write in its latency: that is what the caller waits for.
        written.then(
          () => {
            observe(outcome);
            answer();
          },
          (err: unknown) => {
            // An answered call must never be missing from the audit log: without the line there is no answer.
            log.error({ err, method, requestId }, "audit write failed; refusing the call");
            observe("INTERNAL");
            callback(toServiceError(new Error("audit log write failed")), null);
          },
        );
      };

      const refuse = (e: TotpError) => {
        if (refusedEarly && e.code !== "INTERNAL" && e.code !== "UNAVAILABLE" && !settled) {
          const peer = call.getPeer();
          const admitted = hooks.admitRefusal(client ?? peerAddress(peer));
          if (!admitted.audit) {
            if (!forUser) hooks.cutConnection(peer);
            settled = true;
            inFlight?.delete(abandon);
            observe("RESOURCE_EXHAUSTED");
            callback(tooManyRefusals(admitted.retryAfterMs), null);
            return;
          }
        }
        const mapped = toServiceError(e);
        finish(e.code, mapped.code ?? status.UNKNOWN, () => callback(mapped, null));
      };
      const fail = (err: unknown) => {
        const e = asTotpError(err);
        if (e.code === "INTERNAL") log.error({ err, method, requestId }, "unexpected error");
        else if (e.code === "UNAVAILABLE") log.warn({ err: e.cause ?? e, method, requestId }, "store unavailable");
        refuse(e);
      };
      const abandon = () => refuse(SHUTTING_DOWN);
      inFlight?.add(abandon);

      (async () => {
        const caller = resolveCaller(policy(), client, call.request.onBehalfOf, certificate?.notBefore ?? 0);
        principal = caller.principal;
        forUser = caller.forUser;
        await hooks.checkLimit(kind, caller.principal, label);
        refusedEarly = false;
        return run(caller, call.request, {
          onEntry: (entryLabel, outcome) => {
            entries ??= [];
            entries.push({ label: entryLabel, outcome });
          },
          takeWrite: () => hooks.checkLimit("entry", caller.principal, undefined),
        });
      })().then((response) => finish("ok", status.OK, () => callback(null, response)), fail);
    };
  }

  return {
    generateCode: unary("GenerateCode", "code", (caller, r) => service.generateCode(caller, r)),
    registerSeed: unary("RegisterSeed", "write", (caller, r) => service.registerSeed(caller, r)),
    listLabels: unary("ListLabels", "read", (caller, r) => service.listLabels(caller, r)),
    deleteSeed: unary("DeleteSeed", "delete", (caller, r) => service.deleteSeed(caller, r)),
    importSeeds: unary("ImportSeeds", "import", (caller, r, entryHooks) => service.importSeeds(caller, r, entryHooks)),
  };
}
