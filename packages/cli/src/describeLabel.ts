import { Algorithm, Encoding, type LabelInfo } from "@totp-custody/client";

const ALGORITHM_NAMES: Record<Algorithm, string> = {
  [Algorithm.ALGORITHM_UNSPECIFIED]: "SHA1",
  [Algorithm.ALGORITHM_SHA1]: "SHA1",
  [Algorithm.ALGORITHM_SHA256]: "SHA256",
  [Algorithm.ALGORITHM_SHA512]: "SHA512",
  [Algorithm.UNRECOGNIZED]: "?",
};

/** `SHA1, 6 digits, 30s` or `Steam, 30s`: what kind of codes a label gives. */
export function describeKind(info: LabelInfo): string {
  if (info.encoding === Encoding.ENCODING_STEAM) return `Steam, ${info.period}s`;
  return `${ALGORITHM_NAMES[info.algorithm]}, ${info.digits} digits, ${info.period}s`;
}

/** `GitHub: ops@example.com`, or whichever of the two is set. */
export function describeAccount(info: Pick<LabelInfo, "issuer" | "account">): string {
  return [info.issuer, info.account].filter((part) => part !== "").join(": ");
}

/** One row of `totpctl ls`. */
export function labelRow(info: LabelInfo): string[] {
  return [
    info.label,
    describeAccount(info),
    describeKind(info),
    info.shared ? "shared" : info.owner,
    info.createdAt?.toISOString().slice(0, 10) ?? "",
  ];
}

export const LABEL_TABLE_HEADER = ["LABEL", "ACCOUNT", "CODES", "OWNER", "CREATED"] as const;
