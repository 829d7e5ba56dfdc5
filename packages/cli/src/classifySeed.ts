import { CliError } from "./CliError.js";
import { ExitCode } from "./exitCodes.js";

/** A seed as RegisterSeed takes it: a Key URI, or a base32 secret whose parameters come from flags. */
export type SeedSource = { kind: "uri"; otpauthUri: string } | { kind: "base32"; secretBase32: string };

/**
 * Tells an otpauth URI from a base32 secret. Only the shape is checked here; totp-core validates the rest and
 * says precisely what is wrong. Messages never quote the input: it is a secret.
 */
export function classifySeed(text: string): SeedSource {
  const seed = text.trim();
  if (seed === "") throw new CliError("no seed given: expected an otpauth:// URI or a base32 secret", ExitCode.invalid);
  if (/^otpauth-migration:/i.test(seed)) {
    throw new CliError("this is a Google Authenticator export: use totpctl import", ExitCode.usage);
  }
  if (/^otpauth:/i.test(seed)) return { kind: "uri", otpauthUri: seed };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(seed)) {
    throw new CliError("not a seed: expected an otpauth:// URI or a base32 secret", ExitCode.invalid);
  }
  return { kind: "base32", secretBase32: seed };
}
