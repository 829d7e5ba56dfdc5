/** The parameters of a seed that decide what its codes look like. Shared by parsers, stores and the OTP engine. */
export type HashAlgorithm = "SHA1" | "SHA256" | "SHA512";
export type CodeEncoding = "numeric" | "steam";

export interface SeedParams {
  algorithm: HashAlgorithm;
  /** 6 or 8 for numeric codes, 5 for Steam. */
  digits: number;
  /** Seconds per time step, 1 to 86400. */
  period: number;
  encoding: CodeEncoding;
  issuer: string;
  account: string;
}

/** A validated seed as parsed from a request, before it is stored. */
export interface SeedInput extends SeedParams {
  secret: Buffer;
}

/** Who a label belongs to: one principal (personal label) or the team (shared label defined in the policy). */
export type Owner = { shared: false; principal: string } | { shared: true };

/** The address of one label in a store. */
export interface LabelRef {
  label: string;
  owner: Owner;
}

/** What a store keeps for a label. */
export interface SeedRecord extends SeedInput {
  createdAt: Date;
  /** The principal that registered it (the owner for personal labels). */
  registeredBy: string;
}

/** A label's metadata as ListLabels shows it: everything but the secret. */
export interface LabelMeta extends SeedParams {
  label: string;
  owner: string;
  shared: boolean;
  createdAt: Date;
}

/** The codes of the time step holding a moment, and of the step after it. */
export interface CodeWindow {
  code: string;
  /** Empty when the store cannot compute it (the Vault TOTP engine only gives the current code). */
  nextCode: string;
  validFrom: Date;
  validUntil: Date;
}
