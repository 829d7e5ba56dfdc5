import { join } from "node:path";

/** The folder at the checkout's root where `npm start` keeps its development material (ignored by git). */
export const DEV_DIR_NAME = ".dev";

/** The client identity `npm start`'s policy makes admin, and whose certificate totpctl uses from `.dev/`. */
export const DEV_ADMIN = "admin";

/** Where totpctl reaches the core `npm start` runs when `.dev/address` is missing: npm start's default. */
export const DEV_DEFAULT_ADDRESS = "127.0.0.1:8443";

/** The files of `.dev/`, by role. */
export function devFiles(devDir: string) {
  return {
    ca: join(devDir, "ca.crt"),
    adminCert: join(devDir, `${DEV_ADMIN}.crt`),
    adminKey: join(devDir, `${DEV_ADMIN}.key`),
    coreCert: join(devDir, "totp-core.crt"),
    coreKey: join(devDir, "totp-core.key"),
    /** The client address of the core npm start runs, written at each start (TOTP_LISTEN may move it). */
    address: join(devDir, "address"),
    fileKey: join(devDir, "file.key"),
    seeds: join(devDir, "seeds.enc"),
    policy: join(devDir, "policy.yaml"),
    auditLog: join(devDir, "audit.log"),
  };
}

/**
 * The address a local client dials for a server listening on `listen`: a wildcard host becomes 127.0.0.1, which
 * the development certificate of totp-core names.
 */
export function clientAddress(listen: string): string {
  const at = listen.lastIndexOf(":");
  const host = listen.slice(0, at);
  const wildcard = host === "0.0.0.0" || host === "[::]" || host === "::" || host === "";
  return wildcard ? `127.0.0.1:${listen.slice(at + 1)}` : listen;
}
