import { invalid } from "../errors.js";
import type { CodeEncoding, HashAlgorithm, SeedInput, SeedParams } from "../seed.js";
import { decodeBase32 } from "./decodeBase32.js";
import { percentDecode } from "./percentDecode.js";
import { queryParams } from "./queryParams.js";
import { DEFAULT_DIGITS, DEFAULT_PERIOD, validateSeedParams } from "./seedParams.js";
import { splitIssuerAccount } from "./splitIssuerAccount.js";
import { splitUri } from "./splitUri.js";

/** Real Key URIs stay under a few hundred characters; this only bounds the work a hostile input can cause. */
const MAX_URI_LENGTH = 4096;
const PARAMS = ["secret", "issuer", "algorithm", "digits", "period", "encoder"] as const;
const ALGORITHMS: readonly HashAlgorithm[] = ["SHA1", "SHA256", "SHA512"];

/**
 * Reads an `otpauth://totp/` Key URI (also `otpauth://steam/` and `encoder=steam` for Steam Guard): label
 * `issuer:account`, the `issuer` parameter winning over the label's prefix, defaults SHA1/6/30, unknown parameters
 * ignored. Every refusal is an INVALID_ARGUMENT naming the part at fault. No text of the URI is ever quoted back:
 * a secret pasted into the wrong place (or into the type) must not reach a chat or a log through a message.
 */
export function parseOtpauthUri(uri: string): SeedInput {
  if (uri.length > MAX_URI_LENGTH) {
    throw invalid(`the otpauth URI is ${uri.length} characters long; the limit is ${MAX_URI_LENGTH}`);
  }
  const parts = splitUri(uri);
  if (parts?.scheme === "otpauth-migration") {
    throw invalid("this is a Google Authenticator export (otpauth-migration://); import it with ImportSeeds instead");
  }
  if (parts?.scheme !== "otpauth") throw invalid("the URI must start with otpauth://totp/");
  const encodingOfType = typeEncoding(parts.host);

  const params = queryParams(parts.query, parts.queryOffset, PARAMS);
  // Some generators write optional parameters empty (`issuer=&digits=`): that means the default.
  const given = (name: (typeof PARAMS)[number]) => params.get(name) || undefined;
  const secretText = params.get("secret");
  if (secretText === undefined) throw invalid("the secret parameter is missing");

  const encoding = encoderEncoding(given("encoder")) ?? encodingOfType;
  const label = percentDecode(parts.path, "the label", parts.pathOffset);
  const seedParams: SeedParams = {
    algorithm: algorithm(given("algorithm")),
    digits: wholeNumber(given("digits"), 3, DEFAULT_DIGITS[encoding], "digits", "6 or 8 (5 for Steam)"),
    period: wholeNumber(given("period"), 6, DEFAULT_PERIOD, "period", "seconds from 1 to 86400"),
    encoding,
    ...splitIssuerAccount(label, params.get("issuer") ?? ""),
  };
  validateSeedParams(seedParams);
  return { ...seedParams, secret: decodeBase32(secretText, "the secret parameter") };
}

function typeEncoding(type: string): CodeEncoding {
  switch (type) {
    case "totp":
      return "numeric";
    case "steam":
      return "steam";
    case "hotp":
      throw invalid("HOTP (counter-based) seeds are not supported yet; only otpauth://totp/ URIs");
    case "":
      throw invalid("the otpauth URI has no type; it must start with otpauth://totp/");
    default:
      throw invalid("the OTP type (after otpauth://) is not supported; only otpauth://totp/ URIs are");
  }
}

/** `encoder=steam` is how several apps mark Steam Guard seeds inside an otpauth://totp/ URI. */
function encoderEncoding(encoder: string | undefined): CodeEncoding | undefined {
  if (encoder === undefined) return undefined;
  if (encoder.toLowerCase() === "steam") return "steam";
  // Ignoring an encoder we do not know would give codes the issuer does not accept.
  throw invalid("the encoder parameter is not supported; steam is the only one known");
}

function algorithm(value: string | undefined): HashAlgorithm {
  if (value === undefined) return "SHA1";
  // Some generators write "SHA-256".
  const name = value.toUpperCase().replace("-", "");
  const known = ALGORITHMS.find((a) => a === name);
  if (known) return known;
  if (name === "MD5") throw invalid("the algorithm MD5 is not supported; use SHA1, SHA256 or SHA512");
  throw invalid("the algorithm parameter is not supported; use SHA1, SHA256 or SHA512");
}

/** A parameter of at most `maxDigits` decimal digits, or `fallback` when absent; the range is checked later. */
function wholeNumber(
  value: string | undefined,
  maxDigits: number,
  fallback: number,
  name: string,
  expected: string,
): number {
  if (value === undefined) return fallback;
  if (value.length > maxDigits || !/^[0-9]+$/.test(value)) {
    throw invalid(`the ${name} parameter must be a whole number: ${expected}`);
  }
  return Number(value);
}
