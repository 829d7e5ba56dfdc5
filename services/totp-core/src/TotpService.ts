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
import { decodePageToken, encodePageToken } from "./pageToken.js";
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
import type { SeedInput } from "./seed.js";
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

  async listLabels(caller: Caller, request: ListLabelsRequest): Promise<ListLabelsResponse> {
    if (request.pageSize > MAX_PAGE_SIZE) throw invalid(`page_size: at most ${MAX_PAGE_SIZE}`);
    const size = request.pageSize || DEFAULT_PAGE_SIZE;
    const offset = decodePageToken(caller.principal, request.pageToken);
    const readable = new Set(readableShared(this.#policy(), caller));
    const [personal, shared] = await Promise.all([
      this.#store.list({ shared: false, principal: caller.principal }),
      readable.size > 0 ? this.#store.list({ shared: true }) : [],
    ]);
    const all = [...personal, ...shared.filter((meta) => readable.has(meta.label))];
    const page = all.slice(offset, offset + size);
    const next = offset + size < all.length ? encodePageToken(caller.principal, offset + size) : "";
    return { labels: page.map(toLabelInfo), nextPageToken: next };
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
