import type { ImportRejection, ImportSeedsResponse, LabelInfo } from "@totp-custody/contract";
import { asTotpError, type TotpError } from "./errors.js";
import { toLabelInfo } from "./protoMapping.js";
import type { LabelMeta } from "./seed.js";
import type { EntryHooks } from "./TotpService.js";

/**
 * One entry of an import once decided: refused, or to be stored by `store`. `label` is undefined for an entry
 * refused before it had one (an HOTP entry, say).
 */
export type DecidedEntry = { index: number; name: string; label: string | undefined } & (
  | { refused: TotpError }
  | { store: () => Promise<LabelMeta> }
);

const isOutage = (e: TotpError) => e.code === "UNAVAILABLE" || e.code === "INTERNAL";

/**
 * Stores the entries to be stored, all started at once (so that a store that rewrites a file saves them in one
 * write), and answers ImportSeeds once every write has settled, with each entry's outcome told to `hooks` in export
 * order. A refusal concerns its entry alone; an outage fails the whole call, after every entry has its outcome
 * (some may be stored, so a caller repeating the import sets overwrite or reads the refusals).
 */
export async function reportImport(
  decided: readonly DecidedEntry[],
  hooks: Pick<EntryHooks, "onEntry">,
): Promise<ImportSeedsResponse> {
  const settled = await Promise.allSettled(decided.map((d) => ("store" in d ? d.store() : undefined)));
  const imported: LabelInfo[] = [];
  const rejected: ImportRejection[] = [];
  let outage: TotpError | undefined;
  decided.forEach((d, i) => {
    const outcome = settled[i];
    if (outcome?.status === "fulfilled" && outcome.value !== undefined) {
      imported.push(toLabelInfo(outcome.value));
      hooks.onEntry(d.label, "ok");
      return;
    }
    const error = "refused" in d ? d.refused : asTotpError(outcome?.status === "rejected" ? outcome.reason : undefined);
    hooks.onEntry(d.label, error.code);
    if (isOutage(error)) outage ??= error;
    else {
      const reason = d.label === undefined ? error.message : `${d.label}: ${error.message}`;
      rejected.push({ index: d.index, name: d.name, reason });
    }
  });
  if (outage) throw outage;
  return { imported, rejected };
}
