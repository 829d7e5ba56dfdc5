export { type CreateCaOptions, createCa } from "./createCa.js";
export { type IssueCertificateOptions, issueCertificate } from "./issueCertificate.js";
export type { PemPair } from "./PemPair.js";
export { type PemPaths, writePem } from "./writePem.js";
