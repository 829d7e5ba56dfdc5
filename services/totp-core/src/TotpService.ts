import type {
  DeleteSeedRequest,
  DeleteSeedResponse,
  GenerateCodeRequest,
  GenerateCodeResponse,
  ImportRejection,
  ImportSeedsRequest,
  ImportSeedsResponse,
  LabelInfo,
  ListLabelsRequest,
  ListLabelsResponse,
  RegisterSeedRequest,
  RegisterSeedResponse,
} from "@totp-custody/contract";
import { type ErrorCode, invalid, TotpError } from "./errors.js";
import { decodePageToken, encodePageToken, type PageCursor } from "./pageToken.js";
import {
  labelFromEntry,
  parseMigrationUri,
  parseOtpauthUri,
  seedFromSpec,
  validateLabel,
  validateLabelPrefix,
} from "./parse/index.js";
import { type Caller, canRegisterPersonal, labelAccess, type Policy, readableShared } from "./policy/index.js";
import { toLabelInfo } from "./protoMapping.js";
import type { LabelMeta, SeedInput } from "./seed.js";
import type { SeedStore } from "./store/SeedStore.js";

export interface TotpServiceDeps {
  store: SeedStore;
  /** The policy in force now; it changes when the file is reloaded. */
  policy: () => Policy;
  /** Unix milliseconds; injectable so tests can pin a time step. */
  now?: () => number;
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

const notFound = (label: string) => new TotpError("NOT_FOUND", `label ${label} not found`);

/**
 * The five operations of the contract, for a caller already authenticated and resolved. Transport concerns
 * (identity, rate limits, audit, status codes) live in grpcService.ts.
 */
export class TotpService {
  readonly #store: SeedStore;
  readonly #policy: () => Policy;
  readonly #now: () => number;

  constructor(deps: TotpServiceDeps) {
    this.#store = deps.store;
    this.#policy = deps.policy;
    this.#now = deps.now ?? Date.now;
  }

  async generateCode(caller: Caller, request: GenerateCodeRequest): Promise<GenerateCodeResponse> {
    validateLabel(request.label);
    const access = labelAccess(this.#policy(), caller, request.label);
    // A label the caller may not read answers exactly like a missing one: no existence oracle.
    if (!access.canRead) throw notFound(request.label);
    const at = this.#now();
    const found = await this.#store.codes(access.ref, at);
    if (!found) throw notFound(request.label);
    const { meta, window } = found;
    return {
      code: window.code,
      digits: meta.digits,
      period: meta.period,
      validFrom: window.validFrom,
      validUntil: window.validUntil,
      serverTime: new Date(at),
      nextCode: window.nextCode,
      issuer: meta.issuer,
      account: meta.account,
    };
  }

  async registerSeed(caller: Caller, request: RegisterSeedRequest): Promise<RegisterSeedResponse> {
    validateLabel(request.label);
    const seed = seedOf(request);
    return { info: await this.#put(caller, request.label, seed, request.overwrite) };
  }

  /**
   * One page of the caller's personal labels, then of the shared ones the caller may read, each phase in label
   * order and resumed after the last label answered (pageToken.ts), so a page costs the store about its size.
   */
  async listLabels(caller: Caller, request: ListLabelsRequest): Promise<ListLabelsResponse> {
    if (request.pageSize > MAX_PAGE_SIZE) throw invalid(`page_size: at most ${MAX_PAGE_SIZE}`);
    const size = request.pageSize || DEFAULT_PAGE_SIZE;
    const { principal } = caller;
    const cursor = decodePageToken(principal, request.pageToken);
    const answer = (labels: LabelMeta[], next: PageCursor | undefined): ListLabelsResponse => ({
      labels: labels.map(toLabelInfo),
      nextPageToken: next ? encodePageToken(principal, next) : "",
    });
    const labels: LabelMeta[] = [];
    if (cursor.phase === "personal") {
      const mine = await this.#store.page({ shared: false, principal }, { after: cursor.after, limit: size });
      const last = mine.labels.at(-1)?.label ?? "";
      if (mine.more) return answer(mine.labels, { phase: "personal", after: last });
      labels.push(...mine.labels);
    }
    const readable = new Set(readableShared(this.#policy(), caller));
    if (readable.size === 0) return answer(labels, undefined);
    // With the page already full this only asks whether a readable shared label exists: no empty last page.
    const team = await this.#store.page(
      { shared: true },
      {
        after: cursor.phase === "shared" ? cursor.after : "",
        limit: size - labels.length,
        include: (l) => readable.has(l),
      },
    );
    labels.push(...team.labels);
    // None answered but more follow only when the personal labels filled the page: the shared phase starts over.
    const last = team.labels.at(-1)?.label ?? "";
    return answer(labels, team.more ? { phase: "shared", after: last } : undefined);
  }

  async deleteSeed(caller: Caller, request: DeleteSeedRequest): Promise<DeleteSeedResponse> {
    validateLabel(request.label);
    const access = labelAccess(this.#policy(), caller, request.label);
    if (!access.canRead) throw notFound(request.label);
    if (!access.canManage) {
      throw new TotpError("PERMISSION_DENIED", `label ${request.label} is shared: only its managers may delete it`);
    }
    if (!(await this.#store.remove(access.ref))) throw notFound(request.label);
    return { label: request.label };
  }

  /**
   * Stores every entry of a migration export. `onEntry` is told the outcome of each entry as it is decided (its
   * label, undefined for an entry refused before it had one), so that the audit log has a line per label written,
   * even when an outage fails the call after some entries were stored.
   */
  async importSeeds(
    caller: Caller,
    request: ImportSeedsRequest,
    onEntry: (label: string | undefined, outcome: "ok" | ErrorCode) => void = () => {},
  ): Promise<ImportSeedsResponse> {
    validateLabelPrefix(request.labelPrefix);
    const entries = parseMigrationUri(request.uri);
    const imported: LabelInfo[] = [];
    const rejected: ImportRejection[] = [];
    // One entry at a time, in export order: the answer then lists labels in the order the user sees in the app.
    for (const entry of entries) {
      if ("reason" in entry) {
        rejected.push({ index: entry.index, name: entry.name, reason: entry.reason });
        onEntry(undefined, "INVALID_ARGUMENT");
        continue;
      }
      const label = labelFromEntry(request.labelPrefix, entry.seed.issuer, entry.seed.account);
      try {
        imported.push(await this.#put(caller, label, entry.seed, request.overwrite));
        onEntry(label, "ok");
      } catch (err) {
        // An outage fails the whole call: entries before it may be stored, so a caller repeating the import sets
        // overwrite or reads the refusals ("already exists"); a refusal concerns this entry alone.
        onEntry(label, err instanceof TotpError ? err.code : "INTERNAL");
        if (!(err instanceof TotpError) || err.code === "UNAVAILABLE" || err.code === "INTERNAL") throw err;
        rejected.push({ index: entry.index, name: entry.name, reason: `${label}: ${err.message}` });
      }
    }
    return { imported, rejected };
  }

  /** Stores a seed under a label after checking the caller may write it; shared by RegisterSeed and ImportSeeds. */
  async #put(caller: Caller, label: string, seed: SeedInput, overwrite: boolean): Promise<LabelInfo> {
    const policy = this.#policy();
    const access = labelAccess(policy, caller, label);
    if (access.ref.owner.shared && !access.canManage) {
      throw new TotpError("PERMISSION_DENIED", `label ${label} is shared: only its managers may register it`);
    }
    if (!access.ref.owner.shared && !canRegisterPersonal(policy, caller)) {
      throw new TotpError("PERMISSION_DENIED", "registering personal labels is disabled by the policy");
    }
    return toLabelInfo(await this.#store.put(access.ref, seed, caller.principal, overwrite));
  }
}

function seedOf(request: RegisterSeedRequest): SeedInput {
  if (request.otpauthUri !== undefined) return parseOtpauthUri(request.otpauthUri);
  if (request.spec !== undefined) return seedFromSpec(request.spec);
  throw invalid("source: set either otpauth_uri or spec");
}
