import { relative } from "node:path";
import { spiffeId } from "@totp-custody/pki";
import { Command } from "commander";
import { writeDevCerts } from "../writeDevCerts.js";

export function devCertsCommand(): Command {
  return new Command("dev-certs")
    .description(
      "write a development CA and certificates for totp-core (localhost, 127.0.0.1), telegram-bot, zulip-bot and " +
        `admin (URI SANs ${spiffeId("<name>")}); keys are readable by their owner only`,
    )
    .argument("<dir>", "the folder to write to (created if missing)")
    .option("--force", "replace an existing CA, and so every certificate it signed")
    .action(async (dir: string, options: { force?: boolean }) => {
      const written = await writeDevCerts(dir, { force: options.force ?? false });
      process.stdout.write(written.map((file) => `wrote ${relative(process.cwd(), file) || file}\n`).join(""));
    });
}
