import { Algorithm, Encoding, type SeedSpec } from "@totp-custody/client";
import { InvalidArgumentError } from "commander";

/** The `add` flags that describe a base32 secret; an otpauth URI carries these itself. */
export interface SeedFlags {
  algorithm?: Algorithm;
  digits?: number;
  period?: number;
  issuer?: string;
  account?: string;
  steam?: boolean;
}

const ALGORITHMS: Record<string, Algorithm> = {
  sha1: Algorithm.ALGORITHM_SHA1,
  sha256: Algorithm.ALGORITHM_SHA256,
  sha512: Algorithm.ALGORITHM_SHA512,
};

/** `--algorithm`: sha1, sha256 or sha512, in any case (SHA1 is how otpauth URIs spell it). */
export function parseAlgorithm(text: string): Algorithm {
  const algorithm = ALGORITHMS[text.toLowerCase().replace("-", "")];
  if (algorithm === undefined) throw new InvalidArgumentError("expected sha1, sha256 or sha512");
  return algorithm;
}

/** The largest value a uint32 field of the contract can carry. */
const UINT32_MAX = 2 ** 32 - 1;

/**
 * A whole positive number for `--digits` and `--period`. The core checks the ranges and says which apply; only a
 * number the contract's uint32 fields cannot carry is refused here, since it could not even be sent.
 */
export function parsePositiveInteger(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new InvalidArgumentError("expected a whole number above 0");
  if (Number(text) > UINT32_MAX) throw new InvalidArgumentError(`expected a whole number up to ${UINT32_MAX}`);
  return Number(text);
}

/** The flags given, by name: with a URI they conflict, since the URI has its own parameters. */
export function givenSeedFlags(flags: SeedFlags): string[] {
  return (["algorithm", "digits", "period", "issuer", "account", "steam"] as const)
    .filter((name) => flags[name] !== undefined && flags[name] !== false)
    .map((name) => `--${name}`);
}

/** The SeedSpec of a base32 secret with the `add` flags; unset fields keep the core's defaults (SHA1, 6, 30 s). */
export function seedSpec(secretBase32: string, flags: SeedFlags): SeedSpec {
  return {
    secretBase32,
    algorithm: flags.algorithm ?? Algorithm.ALGORITHM_UNSPECIFIED,
    digits: flags.digits ?? 0,
    period: flags.period ?? 0,
    issuer: flags.issuer ?? "",
    account: flags.account ?? "",
    encoding: flags.steam ? Encoding.ENCODING_STEAM : Encoding.ENCODING_UNSPECIFIED,
  };
}
