export { type CreateCaOptions, createCa } from "./createCa.js";
export { type IssueCertificateOptions, issueCertificate } from "./issueCertificate.js";
export type { PemPair } from "./PemPair.js";
export { issueLocalCoreCertificate, spiffeId, TRUST_DOMAIN } from "./spiffe.js";
export { type PemPaths, writePem } from "./writePem.js";
