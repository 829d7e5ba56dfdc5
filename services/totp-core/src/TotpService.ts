import type {
  DeleteSeedRequest,
  DeleteSeedResponse,
  GenerateCodeRequest,
  GenerateCodeResponse,
  ImportSeedsRequest,
  ImportSeedsResponse,
  LabelInfo,
  ListLabelsRequest,
  ListLabelsResponse,
  RegisterSeedRequest,
  RegisterSeedResponse,
} from "@totp-custody/contract";
import { asTotpError, type ErrorCode, invalid, TotpError } from "./errors.js";
import { decodePageToken, encodePageToken, type PageCursor } from "./pageToken.js";
import {
  labelFromEntry,
  parseMigrationUri,
  parseOtpauthUri,
  seedFromSpec,
  validateLabel,
  validateLabelPrefix,
} from "./parse/index.js";
import {
  type Caller,
  canRegisterPersonal,
  labelAccess,
  type Policy,
  personalRef,
  readableShared,
} from "./policy/index.js";
import { toLabelInfo } from "./protoMapping.js";
import { type DecidedEntry, reportImport } from "./reportImport.js";
import type { LabelMeta, LabelRef, SeedInput } from "./seed.js";
import type { SeedStore } from "./store/SeedStore.js";

export interface TotpServiceDeps {
  store: SeedStore;
  /** The policy in force now; it changes when the file is reloaded. */
  policy: () => Policy;
  /** Unix milliseconds; injectable so tests can pin a time step. */
  now?: () => number;
}

/** What ImportSeeds needs of the transport around it. */
export interface EntryHooks {
  /** Told the outcome of each entry, in export order; `label` is undefined for an entry refused before it had one. */
  onEntry(label: string | undefined, outcome: "ok" | ErrorCode): void;
  /** Draws one write on the caller's write limit for an entry about to be stored; rejects RESOURCE_EXHAUSTED. */
  takeWrite(): void | Promise<void>;
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

const notFound = (label: string) => new TotpError("NOT_FOUND", `label ${label} not found`);
const notYours = (label: string) =>
  new TotpError(
    "PERMISSION_DENIED",
    `label ${label} cannot be registered by this caller: the policy allows it neither as a personal label nor as a team label the caller manages`,
  );
const sameLabel = (first: number) =>
  new TotpError("ALREADY_EXISTS", `entry ${first} of this export maps to the same label`);

/** The write limit's refusal of an import entry, or undefined when the entry got its write. */
async function limitRefusal(take: () => void | Promise<void>): Promise<TotpError | undefined> {
  try {
    await take();
    return undefined;
  } catch (err) {
    if (err instanceof TotpError && err.code === "RESOURCE_EXHAUSTED") return err;
    throw err;
  }
}

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
    if (!access.canRead) return this.#asMissing(caller, request.label);
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
    if (!access.canRead) return this.#asMissing(caller, request.label);
    if (!access.canManage) {
      throw new TotpError("PERMISSION_DENIED", `label ${request.label} is shared: only its managers may delete it`);
    }
    if (!(await this.#store.remove(access.ref))) throw notFound(request.label);
    return { label: request.label };
  }

  /**
   * Stores every entry of a migration export. Each entry is decided in export order: refused (unreadable, a label
   * an earlier entry has, not the caller's to write, over the write limit) or drawn on the write limit; the entries
   * that got a write are then stored together, so a store that rewrites a file saves them in one write. `hooks` is
   * told each entry's outcome (its label, undefined for an entry refused before it had one), so that the audit log
   * has a line per label written, even when an outage fails the call after some entries were stored.
   */
  async importSeeds(caller: Caller, request: ImportSeedsRequest, hooks: EntryHooks): Promise<ImportSeedsResponse> {
    validateLabelPrefix(request.labelPrefix);
    const decided: DecidedEntry[] = [];
    const firstWith = new Map<string, number>();
    // Once the write limit refuses an entry, the later ones are refused with the same wait instead of being counted.
    let overLimit: TotpError | undefined;
    for (const entry of parseMigrationUri(request.uri)) {
      const { index, name } = entry;
      if ("reason" in entry) {
        decided.push({ index, name, label: undefined, refused: invalid(entry.reason) });
        continue;
      }
      const label = labelFromEntry(request.labelPrefix, entry.seed.issuer, entry.seed.account);
      const first = firstWith.get(label);
      if (first !== undefined) {
        // With overwrite, storing both would keep only the second seed and report both as imported.
        decided.push({ index, name, label, refused: sameLabel(first) });
        continue;
      }
      firstWith.set(label, entry.index);
      try {
        const ref = this.#writableRef(caller, label);
        overLimit ??= await limitRefusal(() => hooks.takeWrite());
        if (overLimit) throw overLimit;
        const { seed } = entry;
        decided.push({
          index,
          name,
          label,
          store: () => this.#store.put(ref, seed, caller.principal, request.overwrite),
        });
      } catch (err) {
        decided.push({ index, name, label, refused: asTotpError(err) });
      }
    }
    // Nothing to store because the limit was spent before the first entry: the call itself is over the limit, and
    // is answered so (one audit line, the wait in retry-after-ms) rather than with an entry line per refusal.
    if (overLimit && !decided.some((d) => "store" in d)) throw overLimit;
    return reportImport(decided, hooks);
  }

  /** Stores a seed under a label after checking the caller may write it (RegisterSeed). */
  async #put(caller: Caller, label: string, seed: SeedInput, overwrite: boolean): Promise<LabelInfo> {
    const ref = this.#writableRef(caller, label);
    return toLabelInfo(await this.#store.put(ref, seed, caller.principal, overwrite));
  }

  /**
   * The answer to a team label the caller may not read: exactly a missing label's, and after the same work, one
   * store lookup of the caller's own label of that name (as a name no team label has gets; its result does not
   * matter). Without the lookup the refusal came back several times faster, an existence oracle by timing.
   */
  async #asMissing(caller: Caller, label: string): Promise<never> {
    await this.#store.info(personalRef(caller, label));
    throw notFound(label);
  }

  /** Where `label` is stored for `caller`, or PERMISSION_DENIED when the caller may not write it. */
  #writableRef(caller: Caller, label: string): LabelRef {
    const policy = this.#policy();
    const access = labelAccess(policy, caller, label);
    // A caller who may read the team label knows it (ListLabels shows it) and is told why; to anyone else its name
    // is refused like any name the caller may not register (with self-service off, every personal name), so the
    // answer says the name is not available to this caller, not that a team label has it.
    if (access.ref.owner.shared && access.canRead && !access.canManage) {
      throw new TotpError("PERMISSION_DENIED", `label ${label} is shared: only its managers may register it`);
    }
    if (access.ref.owner.shared ? !access.canManage : !canRegisterPersonal(policy, caller)) throw notYours(label);
    return access.ref;
  }
}

function seedOf(request: RegisterSeedRequest): SeedInput {
  if (request.otpauthUri !== undefined) return parseOtpauthUri(request.otpauthUri);
  if (request.spec !== undefined) return seedFromSpec(request.spec);
  throw invalid("source: set either otpauth_uri or spec");
}
