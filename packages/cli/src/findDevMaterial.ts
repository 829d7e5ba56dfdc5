import { readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CliError } from "./CliError.js";
import { DEV_DEFAULT_ADDRESS, DEV_DIR_NAME, devFiles } from "./devLayout.js";
import { ExitCode } from "./exitCodes.js";
import type { DevMaterial } from "./resolveConnection.js";

/**
 * What `npm start` left in the `.dev/` folder of the checkout holding `from` (the nearest one above it with an
 * admin certificate), or undefined. A folder another user could have planted or changed (say in /tmp, above a
 * working directory) is refused, not skipped: its certificates would send seeds to whatever server it names.
 */
export function findDevMaterial(from: string): DevMaterial | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const devDir = join(dir, DEV_DIR_NAME);
    const files = devFiles(devDir);
    if (statSync(files.adminCert, { throwIfNoEntry: false })) {
      const folder = statSync(devDir);
      const uid = process.getuid?.();
      if ((uid !== undefined && folder.uid !== uid) || (folder.mode & 0o022) !== 0) {
        throw new CliError(
          `${devDir} is not owned by you alone; not using it (pass --addr, --ca, --cert and --key instead)`,
          ExitCode.usage,
        );
      }
      const address = statSync(files.address, { throwIfNoEntry: false })
        ? readFileSync(files.address, "utf8").trim()
        : DEV_DEFAULT_ADDRESS;
      return { address, ca: files.ca, cert: files.adminCert, key: files.adminKey };
    }
    if (dirname(dir) === dir) return undefined;
  }
}
