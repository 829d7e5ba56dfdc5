import { Algorithm, Encoding, type LabelInfo } from "@totp-custody/contract";
import type { CodeEncoding, HashAlgorithm, LabelMeta } from "./seed.js";

export const algorithmToProto: Record<HashAlgorithm, Algorithm> = {
  SHA1: Algorithm.ALGORITHM_SHA1,
  SHA256: Algorithm.ALGORITHM_SHA256,
  SHA512: Algorithm.ALGORITHM_SHA512,
};

export const encodingToProto: Record<CodeEncoding, Encoding> = {
  numeric: Encoding.ENCODING_NUMERIC,
  steam: Encoding.ENCODING_STEAM,
};

/** A label's metadata as the contract shows it. */
export function toLabelInfo(meta: LabelMeta): LabelInfo {
  return {
    label: meta.label,
    issuer: meta.issuer,
    account: meta.account,
    algorithm: algorithmToProto[meta.algorithm],
    digits: meta.digits,
    period: meta.period,
    encoding: encodingToProto[meta.encoding],
    owner: meta.owner,
    shared: meta.shared,
    createdAt: meta.createdAt,
  };
}
