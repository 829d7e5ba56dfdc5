import { Algorithm, Encoding, type SeedSpec } from "@totp-custody/contract";
import { invalid } from "../errors.js";
import type { CodeEncoding, HashAlgorithm, SeedInput, SeedParams } from "../seed.js";
import { decodeBase32 } from "./decodeBase32.js";
import { DEFAULT_DIGITS, DEFAULT_PERIOD, validateSeedParams } from "./seedParams.js";

/** A RegisterSeed `spec` as a validated seed; zero values take the defaults the contract documents. */
export function seedFromSpec(spec: SeedSpec): SeedInput {
  const encoding = encodingOf(spec.encoding);
  const params: SeedParams = {
    algorithm: algorithmOf(spec.algorithm),
    digits: spec.digits === 0 ? DEFAULT_DIGITS[encoding] : spec.digits,
    period: spec.period === 0 ? DEFAULT_PERIOD : spec.period,
    encoding,
    issuer: spec.issuer,
    account: spec.account,
  };
  validateSeedParams(params);
  return { ...params, secret: decodeBase32(spec.secretBase32, "secret_base32") };
}

function algorithmOf(value: Algorithm): HashAlgorithm {
  switch (value) {
    case Algorithm.ALGORITHM_UNSPECIFIED:
    case Algorithm.ALGORITHM_SHA1:
      return "SHA1";
    case Algorithm.ALGORITHM_SHA256:
      return "SHA256";
    case Algorithm.ALGORITHM_SHA512:
      return "SHA512";
    default:
      // Decoding keeps enum numbers this contract version does not define.
      throw invalid(`algorithm ${value} is not one of ALGORITHM_SHA1, ALGORITHM_SHA256, ALGORITHM_SHA512`);
  }
}

function encodingOf(value: Encoding): CodeEncoding {
  switch (value) {
    case Encoding.ENCODING_UNSPECIFIED:
    case Encoding.ENCODING_NUMERIC:
      return "numeric";
    case Encoding.ENCODING_STEAM:
      return "steam";
    default:
      throw invalid(`encoding ${value} is not one of ENCODING_NUMERIC, ENCODING_STEAM`);
  }
}
